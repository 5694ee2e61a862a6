/**
 * Commands sent on the request path during one turn of the event loop leave in one write per
 * Redis connection (`batchedCall`), against the real test cluster and a standalone server.
 */
import calculateSlot from 'cluster-key-slot'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { batchedCall, rawCall } from '../../src/proxy/raw-call.js'
import { batchWritesThisTurn } from '../../src/proxy/turn-batching.js'
import { connectUpstream, type Upstream } from '../../src/proxy/upstream.js'
import { findFreePortRange } from '../helpers/ports.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'

let cluster: Upstream
let standalone: RedisProcess
let single: Redis
beforeAll(async () => {
  cluster = connectUpstream({ mode: 'cluster', redis: inject('clusterUrl') })
  standalone = await startRedisServer(await findFreePortRange(1, false))
  single = new Redis({ port: standalone.port, protocol: 2 })
  expect(await cluster.whenReady(10_000)).toBe(true)
  // A cluster client connects to a node on its first command there: connect them all.
  await Promise.all(cluster.masters().map((m) => m.ping()))
  await single.ping()
})
afterAll(async () => {
  await cluster.close()
  single.disconnect()
  await standalone.stop()
})

type Socket = Redis['stream']

/** Counts the socket-level writes (one `_write` or `_writev` each: one system call) of a connection. */
function countWrites(socket: Socket): { count: number; restore(): void } {
  const counter = {
    count: 0,
    restore: () => {
      delete (socket as unknown as Record<string, unknown>)._write
      delete (socket as unknown as Record<string, unknown>)._writev
    },
  }
  const write = socket._write.bind(socket)
  const writev = socket._writev!.bind(socket)
  Object.assign(socket, {
    _write: (...args: Parameters<Socket['_write']>) => {
      counter.count++
      return write(...args)
    },
    _writev: (...args: Parameters<NonNullable<Socket['_writev']>>) => {
      counter.count++
      return writev(...args)
    },
  })
  return counter
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

it('sends a turn’s commands to each cluster master in one write, and every reply is its own', async () => {
  const masters = cluster.masters()
  // Keys spread over every master's slots.
  const keys = Array.from({ length: 300 }, (_, i) => `batch:${i}`)
  const counters = masters.map((m) => countWrites(m.stream))
  try {
    const sets = keys.map((key) => batchedCall(cluster.client, ['SET', key, `v-${key}`]))
    // Still this turn: held back on every node's socket.
    expect(masters.map((m) => m.stream.writableCorked)).toEqual(masters.map(() => 1))
    expect(counters.map((c) => c.count)).toEqual(masters.map(() => 0))
    await nextTurn()
    expect(masters.map((m) => m.stream.writableCorked)).toEqual(masters.map(() => 0))
    expect(counters.map((c) => c.count)).toEqual(masters.map(() => 1))
    expect(await Promise.all(sets)).toEqual(keys.map(() => Buffer.from('OK')))
  } finally {
    for (const c of counters) c.restore()
  }
  const values = await Promise.all(keys.map((key) => batchedCall(cluster.client, ['GET', key])))
  expect(values.map(String)).toEqual(keys.map((key) => `v-${key}`))
  // The slots really were spread: every master served some of them.
  const slots = new Set(keys.map((key) => calculateSlot(key)))
  expect(slots.size).toBeGreaterThan(200)
})

it('batches a standalone connection’s writes per turn, corking it once however many commands', async () => {
  const counter = countWrites(single.stream)
  try {
    const replies = Array.from({ length: 50 }, (_, i) => batchedCall(single, ['INCRBY', 'turn:n', String(i)]))
    expect(single.stream.writableCorked).toBe(1)
    await nextTurn()
    expect(counter.count).toBe(1)
    // In order, on one connection: each INCRBY sees the ones before it.
    const expected = Array.from({ length: 50 }, (_, i) => (i * (i + 1)) / 2)
    expect(await Promise.all(replies)).toEqual(expected)
    // The next turn is a new batch.
    const again = batchedCall(single, ['GET', 'turn:n'])
    expect(single.stream.writableCorked).toBe(1)
    await nextTurn()
    expect(counter.count).toBe(2)
    expect(String(await again)).toBe(String(expected.at(-1)))
  } finally {
    counter.restore()
  }
})

it('leaves alone what it cannot cork, and still corks a connection later in the same turn', async () => {
  const multi = single.multi()
  // An ioredis pipeline has no socket of its own: nothing to cork, nothing remembered.
  batchWritesThisTurn(multi as never)
  batchWritesThisTurn(single)
  expect(single.stream.writableCorked).toBe(1)
  // A plain call on a connection of its own is not held back.
  const dedicated = cluster.dedicated()
  await dedicated.ping()
  const reply = rawCall(dedicated, ['PING'])
  expect(dedicated.stream.writableCorked).toBe(0)
  expect(dedicated.stream.writableLength).toBe(0) // written at once
  expect(String(await reply)).toBe('PONG')
  dedicated.disconnect()
  await nextTurn()
  expect(single.stream.writableCorked).toBe(0)
  multi.discard()
})

it('does not lose a command held back on a connection that drops before the turn ends', async () => {
  const own = new Redis({ port: standalone.port, protocol: 2, maxRetriesPerRequest: 1 })
  await own.ping()
  const reply = batchedCall(own, ['SET', 'turn:dropped', 'x'])
  own.stream.destroy() // the held-back write goes with the socket
  // ioredis reconnects and sends the command again, or fails it: never an answer left hanging.
  const outcome = await reply.then(
    (value) => ({ value: String(value) }),
    (error: Error) => ({ error: error.message }),
  )
  expect(outcome).toSatisfy((o) => 'error' in o || o.value === 'OK')
  own.disconnect()
})
