/**
 * describeCommand: what the proxy decides about a command, and its memo of commands whose
 * description depends only on the name as sent and the word count.
 */
import { describe, expect, it } from 'vitest'
import { type CommandArgs, describeCommand } from '../../src/proxy/command-table.js'

describe('describeCommand', () => {
  it('describes the same command the same way, cached or not, whatever the case of its name', () => {
    const commands: CommandArgs[] = [
      ['GET', 'k'],
      ['get', 'k'],
      ['Get', 'k'],
      ['SET', 'k', 'v', 'EX', '10'],
      ['MGET', 'a', 'b', 'c'],
      ['HSET', 'h', 'f', 'v'],
      ['BLPOP', 'l', '0'],
    ]
    for (const command of commands) {
      const first = describeCommand(command)
      const again = describeCommand(command)
      expect(again, command.join(' ')).toEqual(first)
      expect(again.name).toBe(command[0].toLowerCase())
    }
    expect(describeCommand(['Get', 'k'])).toEqual(describeCommand(['GET', 'k']))
    expect(describeCommand(['MGET', 'a', 'b', 'c']).keyIndexes).toEqual([0, 1, 2])
    expect(describeCommand(['BLPOP', 'l', '0']).blocking).toBe(true)
  })

  it('keeps what depends on the word count apart: arity, key positions, MSET pairs', () => {
    expect(describeCommand(['GET', 'k']).malformed).toBe(false)
    expect(describeCommand(['GET', 'k', 'extra']).malformed).toBe(true)
    expect(describeCommand(['GET']).malformed).toBe(true)
    expect(describeCommand(['GET', 'k']).malformed).toBe(false)
    expect(describeCommand(['MSET', 'a', '1', 'b', '2']).malformed).toBe(false)
    expect(describeCommand(['MSET', 'a', '1', 'b']).malformed).toBe(true)
    expect(describeCommand(['MGET', 'a']).keyIndexes).toEqual([0])
    expect(describeCommand(['MGET', 'a', 'b']).keyIndexes).toEqual([0, 1])
  })

  it('never shares a description that depends on more than the count: XREAD BLOCK, scripts, subcommands', () => {
    const plain = describeCommand(['XREAD', 'COUNT', '1', 'STREAMS', 's', '0'])
    const blocking = describeCommand(['XREAD', 'BLOCK', '1', 'STREAMS', 's', '0'])
    expect([plain.blocking, blocking.blocking]).toEqual([false, true])
    expect(describeCommand(['EVAL', 'return 1', '1', 'k']).keyIndexes).toEqual([2])
    expect(describeCommand(['EVAL', 'return 1', '0', 'k']).keyIndexes).toEqual([])
    expect(describeCommand(['CONFIG', 'GET', 'x']).sub).toBe('get')
    expect(describeCommand(['CONFIG', 'SET', 'x']).sub).toBe('set')
  })

  it('a shared description cannot be changed by whoever reads it', () => {
    describeCommand(['GET', 'frozen'])
    const shared = describeCommand(['GET', 'frozen'])
    expect(Object.isFrozen(shared)).toBe(true)
    expect(Object.isFrozen(shared.keyIndexes)).toBe(true)
  })
})

describe('names that are Object.prototype properties', () => {
  it('are unknown commands and unknown subcommands, never a crash', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__PROTO__']) {
      const info = describeCommand([name, 'x'])
      expect(info.known, name).toBe(false)
      expect(info.keyIndexes).toEqual([])
      expect(describeCommand(['CONFIG', name]).dangerous).toBe(true)
      expect(describeCommand(['OBJECT', name, 'k']).known).toBe(true)
    }
  })
})

describe('subcommands that are Object.prototype properties', () => {
  it('are not taken for real subcommands (arity, flags, keys)', () => {
    const info = describeCommand(['CONFIG', '__proto__'])
    expect(info.sub).toBe('__proto__')
    expect(info.refusedBecause).toBeUndefined()
    expect(info.keyIndexes).toEqual([])
    expect(info.malformed).toBe(false) // Redis answers for an unknown subcommand
  })
})
