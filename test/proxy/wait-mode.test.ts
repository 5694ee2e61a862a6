/**
 * WAIT mode (`minReplicaAcks`) on a cluster of its own: writes are answered once a replica has
 * them; with the replica frozen (SIGSTOP) a write is answered 503 NOREPLICAS instead. Then data
 * loss on failover, measured: a master's replica is frozen while writes go on, the master is
 * killed, the replica resumes and is promoted; acknowledged writes that vanished are counted,
 * without WAIT mode (on one master) and with it (on another).
 */
import calculateSlot from 'cluster-key-slot'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createCache } from '../../src/cache/create-cache.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { ownerOf, replicaOf, useOwnCluster } from '../helpers/own-cluster.js'
import { startTestProxy, TOKENS, upstashClient } from '../helpers/proxy.js'
import { replicaInStep } from '../helpers/redis-servers.js'

const own = useOwnCluster('wait-mode')
let waiting: RunningProxy
beforeAll(async () => {
  // Every replica in sync first: a fresh cluster's replicas may still be loading their first copy.
  for (const node of own.status.nodes.filter((n) => n.role === 'master')) {
    if (!(await replicaInStep(node.port)))
      throw new Error(`the replica of ${node.port} never acknowledged a WAIT`)
  }
  waiting = await startTestProxy({
    redis: `redis://127.0.0.1:${own.options.basePort}`,
    minReplicaAcks: 1,
    // Generous: on a loaded 2-core machine a healthy replica can take a few hundred ms to ack.
    replicaAckTimeout: '2s',
  })
})
afterAll(() => waiting?.close('1s'))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A hash tag served by a master other than those given. */
function tagOn(exclude: number[]): string {
  for (let i = 0; ; i++)
    if (!exclude.includes(ownerOf(own.status, calculateSlot(`t${i}`)).port)) return `t${i}`
}

async function timedSets(url: string, tag: string, n: number): Promise<number> {
  const client = upstashClient(url)
  const started = performance.now()
  for (let i = 0; i < n; i++) await client.set(`{${tag}}:lat:${i}`, i)
  return (performance.now() - started) / n
}

it('writes, pipelines and transactions succeed once a replica has them; reads are unaffected; the cost', async () => {
  const client = upstashClient(waiting.url)
  expect(await client.set('{w}a', '1')).toBe('OK')
  expect(await client.get('{w}a')).toBe(1)
  const p = client.pipeline()
  p.set('{w}b', 2)
  p.incr('{w}b')
  p.get('{w}a')
  expect(await p.exec()).toEqual(['OK', 3, 1])
  const m = client.multi()
  m.set('{w}c', 'x')
  m.get('{w}c')
  expect(await m.exec()).toEqual(['OK', 'x'])
  // What it costs: sequential SETs through the plain proxy and through the WAIT-mode proxy.
  const tag = tagOn([])
  const plain = await timedSets(own.proxy.url, tag, 300)
  const withWait = await timedSets(waiting.url, tag, 300)
  console.log(
    `WAIT mode cost: a SET takes ${plain.toFixed(2)} ms without, ${withWait.toFixed(2)} ms with (${(withWait / plain).toFixed(2)}×)`,
  )
  expect(withWait).toBeGreaterThan(0)
})

it('a write whose replica does not acknowledge in time is answered 503 NOREPLICAS', {
  timeout: 30_000,
}, async () => {
  const tag = tagOn([])
  const master = ownerOf(own.status, calculateSlot(tag))
  const replica = replicaOf(own.status, master.port)
  process.kill(replica.pid!, 'SIGSTOP')
  try {
    const response = await fetch(`${waiting.url}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.standard}` },
      body: JSON.stringify(['SET', `{${tag}}:frozen`, '1']),
    })
    expect(response.status).toBe(503)
    expect((await response.json()).error).toMatch(
      /^NOREPLICAS .*0 of the 1 replicas required acknowledged it within 2000 ms/,
    )
    // Reads still answer.
    expect((await upstashClient(waiting.url).get(`{${tag}}:frozen`)) ?? 'read').toBeTruthy()
  } finally {
    process.kill(replica.pid!, 'SIGCONT')
  }
})

it('a cache write whose tombstone a frozen replica did not acknowledge is owed and retried, not taken as done', {
  timeout: 30_000,
}, async () => {
  const tag = tagOn([])
  const key = `{${tag}}:product`
  const master = ownerOf(own.status, calculateSlot(tag))
  const replica = replicaOf(own.status, master.port)
  const cache = createCache({
    redis: { url: waiting.url, token: TOKENS.standard },
    namespace: '',
    // Longer than the proxy's replica-ack timeout (2 s): the refusal is WAIT mode's, not a timeout.
    timeouts: { l2: '5s' },
  })
  const raw = upstashClient(waiting.url)
  expect(await cache.getOrLoad(key, async () => 'old')).toBe('old')
  await cache.settled()
  expect(String(await raw.get(key))).toContain('"v":"old"')
  process.kill(replica.pid!, 'SIGSTOP')
  try {
    await cache.write(key, async () => {})
    // The tombstone reached the master alone: answered 503, so the cache still owes the key.
    expect(cache.stats().pendingInvalidations).toBe(1)
  } finally {
    process.kill(replica.pid!, 'SIGCONT')
  }
  // The retry (after 1 s) lands once the replica acknowledges again.
  for (let i = 0; i < 100 && cache.stats().pendingInvalidations > 0; i++) await sleep(100)
  expect(cache.stats().pendingInvalidations).toBe(0)
  expect(String(await raw.get(key))).toContain('"f":0')
})

interface Ack {
  key: string
  ok: boolean
}

/**
 * Freezes a master's replica, writes large values for a while, kills the master, resumes the
 * replica and waits for its promotion. The values are large so the replication stream overflows
 * the socket buffers: what the kernel already queued reaches the replica when it resumes (with
 * small writes nothing is lost at all), what the master still held in its own output buffer dies
 * with it, as in a real failover with a lagging replica.
 * @param minAckedWhileFrozen keep writing past the 2.5 s until this many bytes were acknowledged
 *   during the freeze (at most 20 s): the kernel's loopback buffers can hold tens of MB (here
 *   tcp_rmem max 32 MB + tcp_wmem 4 MB), and a slow run that wrote less lost nothing at all
 */
async function loseAMaster(
  url: string,
  tag: string,
  minAckedWhileFrozen = 0,
): Promise<{ acked: number; lost: number; refused: number }> {
  const master = ownerOf(own.status, calculateSlot(tag))
  const replica = replicaOf(own.status, master.port)
  const client = upstashClient(url)
  const acks: Ack[] = []
  const big = 'x'.repeat(256 * 1024)
  const write = async (i: number) => {
    const key = `{${tag}}:loss:${i}`
    try {
      await client.set(key, `${i}:${big}`)
      acks.push({ key, ok: true })
    } catch {
      acks.push({ key, ok: false })
    }
  }
  for (let i = 0; i < 20; i++) await write(i) // replicated normally
  process.kill(replica.pid!, 'SIGSTOP')
  const frozenAt = Date.now()
  const ackedWhileFrozen = () => acks.slice(20).filter((a) => a.ok).length * big.length
  for (
    let i = 20;
    Date.now() < frozenAt + 2500 ||
    (ackedWhileFrozen() < minAckedWhileFrozen && Date.now() < frozenAt + 20_000);
    i++
  )
    await write(i)
  process.kill(master.pid!, 'SIGKILL')
  process.kill(replica.pid!, 'SIGCONT')
  const watcher = new Redis({ port: replica.port, protocol: 2 })
  const deadline = Date.now() + 30_000
  while (!/role:master/.test(await watcher.info('replication'))) {
    if (Date.now() > deadline) throw new Error('the replica was not promoted')
    await sleep(100)
  }
  watcher.disconnect()
  // Straight from the promoted node, which now serves the slot.
  const direct = new Redis({ port: replica.port, protocol: 2 })
  const acked = acks.filter((a) => a.ok)
  const present = acked.length ? await direct.exists(...acked.map((a) => a.key)) : 0
  direct.disconnect()
  return {
    acked: acked.length,
    lost: acked.length - present,
    refused: acks.filter((a) => !a.ok).length,
  }
}

it('data loss on failover: acknowledged writes lost without WAIT mode, none with it', {
  timeout: 90_000,
}, async () => {
  const plainTag = tagOn([])
  // 64 MB acknowledged while the replica is frozen: well past what the kernel's buffers can hold.
  const plain = await loseAMaster(own.proxy.url, plainTag, 64 * 1024 * 1024)
  const waitTag = tagOn([ownerOf(own.status, calculateSlot(plainTag)).port])
  const withWait = await loseAMaster(waiting.url, waitTag)
  console.log(
    `failover with the replica frozen (2.5 s, longer until 64 MB were acknowledged): without WAIT mode ${plain.lost} of ${plain.acked} acknowledged writes lost; ` +
      `with it ${withWait.lost} of ${withWait.acked} lost (${withWait.refused} writes answered 503 NOREPLICAS instead)`,
  )
  expect(plain.lost).toBeGreaterThan(0)
  expect(withWait.lost).toBe(0)
  expect(withWait.refused).toBeGreaterThan(0)
})
