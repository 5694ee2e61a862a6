/**
 * Coherence across OS processes (separate heaps, separate L1s, separate HTTP clients), on the real
 * cluster through the proxy: after a write completes in one process, a read the other begins
 * `maxStaleness` later serves the new value; before that it may serve its L1 copy.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

const MAX_STALENESS_MS = 250

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

/** A worker process and a function that sends it one command and resolves with its answer. */
function worker(namespace: string) {
  const child = spawn(
    'node_modules/.bin/tsx',
    [
      'test/cache/fixtures/coherence-worker.ts',
      proxy.url,
      TOKENS.standard,
      namespace,
      String(MAX_STALENESS_MS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const send = async (command: object): Promise<{ value?: string; l1?: boolean; written?: string }> => {
    child.stdin.write(`${JSON.stringify(command)}\n`)
    const { value, done } = await answers.next()
    if (done) throw new Error('the worker exited')
    return JSON.parse(value)
  }
  return { child, send }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

it('two processes: a write in one is served by the other within maxStaleness', {
  timeout: 60_000,
}, async () => {
  const namespace = `procs-${randomUUID()}`
  const db = new Redis({ url: proxy.url, token: TOKENS.standard, automaticDeserialization: false })
  await db.set(`db:${namespace}:k`, 'v0')
  const a = worker(namespace)
  const b = worker(namespace)
  try {
    expect((await a.send({ op: 'read', key: 'k' })).value).toBe('v0')
    // A new process keeps nothing in L1 from reads that raced its first stream cursor: its second
    // read still comes from tier 2, the third from L1.
    expect((await b.send({ op: 'read', key: 'k' })).value).toBe('v0')
    expect(await b.send({ op: 'read', key: 'k' })).toEqual({ value: 'v0', l1: false })
    expect(await b.send({ op: 'read', key: 'k' })).toEqual({ value: 'v0', l1: true })
    let servedFromL1Inside = 0
    for (let round = 1; round <= 6; round++) {
      const [writer, reader] = round % 2 === 1 ? [a, b] : [b, a]
      // The reader has the current value in L1.
      expect((await reader.send({ op: 'read', key: 'k' })).value).toBe(`v${round - 1}`)
      expect(await writer.send({ op: 'write', key: 'k', value: `v${round}` })).toEqual({
        written: `v${round}`,
      })
      const completed = Date.now()
      // Inside the bound the reader may still serve its L1 copy (allowed, and counted).
      const inside = await reader.send({ op: 'read', key: 'k' })
      if (inside.value === `v${round - 1}`) servedFromL1Inside++
      await sleep(Math.max(0, completed + MAX_STALENESS_MS + 5 - Date.now()))
      expect((await reader.send({ op: 'read', key: 'k' })).value).toBe(`v${round}`)
    }
    console.log(
      `cross-process: 6 writes; the other process served its old L1 copy inside the bound ${servedFromL1Inside} times, and the new value every time after it`,
    )
  } finally {
    a.child.kill()
    b.child.kill()
  }
})
