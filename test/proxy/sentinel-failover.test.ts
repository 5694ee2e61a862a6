/**
 * Sentinel mode under steady writes through the proxy: a planned failover (SENTINEL FAILOVER),
 * then the new master SIGKILLed; each time the sentinels promote the replica and the proxy
 * follows them to it. Acknowledged writes are counted on the new master: through the plain proxy
 * and through one in WAIT mode. A master, a replica and three sentinels of the test's own.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from '../helpers/ports.js'
import { startTestProxy, upstashClient } from '../helpers/proxy.js'
import { replicaInStep, type SentinelDeployment, startSentinelDeployment } from '../helpers/redis-servers.js'
import { timedWrites, type Write } from '../helpers/timed-writes.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let deployment: SentinelDeployment
let proxy: RunningProxy
/** The same, in WAIT mode (`--min-replica-acks 1`). */
let waiting: RunningProxy
let base = 0

beforeAll(async () => {
  base = await findFreePortRange(5, false)
  deployment = await startSentinelDeployment(base)
  const sentinel = {
    mode: 'sentinel' as const,
    sentinels: deployment.sentinels,
    masterName: deployment.masterName,
  }
  proxy = await startTestProxy(sentinel)
  waiting = await startTestProxy({ ...sentinel, minReplicaAcks: 1, replicaAckTimeout: '2s' })
}, 60_000)
afterAll(async () => {
  await proxy?.close('1s')
  await waiting?.close('1s')
  await deployment?.stop()
})

/** Sequential SETs of `<prefix>:<i>` through the proxy at `url` until `until()`. */
function writeLoop(url: string, prefix: string, until: () => boolean): Promise<Write[]> {
  const client = upstashClient(url) // the real client, retries off: every failure shows
  return timedWrites((i) => client.set(`${prefix}:${i}`, i), until)
}

/** The port of the server that reports itself master, among the two data servers (0 while none does). */
async function currentMaster(): Promise<number> {
  for (const port of [base, base + 1]) {
    const probe = new Redis({
      port,
      protocol: 2,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    })
    probe.on('error', () => {})
    try {
      await probe.connect()
      if (/role:master/.test(await probe.info('replication'))) {
        // A demoted master may still say master for a moment: the sentinels must agree.
        const sentinel = new Redis({ port: base + 2, protocol: 2 })
        const [, named] = (await sentinel.call(
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          'tiercache',
        )) as string[]
        sentinel.disconnect()
        if (Number(named) === port) return port
      }
    } catch {
    } finally {
      probe.disconnect()
    }
  }
  return 0
}

/**
 * Writes through both proxies, does `fault`, waits until `promoted` (polled) is true and 1.5 s
 * more; notes when the sentinels announced the new master (+switch-master).
 */
async function writesThrough(name: string, fault: () => Promise<void>, promoted: () => Promise<boolean>) {
  const watcher = new Redis({ port: base + 4, protocol: 2 })
  let switchedAt = 0
  await watcher.subscribe('+switch-master')
  watcher.on('message', () => {
    switchedAt ||= Date.now()
  })
  let done = false
  const plainLoop = writeLoop(proxy.url, `${name}:plain`, () => done)
  const waitLoop = writeLoop(waiting.url, `${name}:wait`, () => done)
  await sleep(1000)
  const faultAt = Date.now()
  await fault()
  let promotedAt = 0
  while (Date.now() - faultAt < 30_000) {
    if (await promoted()) {
      promotedAt = Date.now()
      break
    }
    await sleep(50)
  }
  await sleep(1500)
  done = true
  const [plain, wait] = await Promise.all([plainLoop, waitLoop])
  watcher.disconnect()
  const summary = (writes: Write[]) => {
    const failed = writes.filter((w) => !w.ok)
    return (
      `${writes.length} writes (${writes.filter((w) => w.ackAt > faultAt).length} after the fault), longest ` +
      `${Math.max(...writes.map((w) => w.ms))} ms, failed ${failed.length}` +
      (failed.length ? ` (${[...new Set(failed.map((w) => w.error?.slice(0, 40)))].join(' | ')})` : '')
    )
  }
  console.log(
    `[sentinel, ${name}] new master ${promotedAt - faultAt} ms after the fault, announced +${switchedAt - faultAt} ms; ` +
      `plain: ${summary(plain)}; WAIT mode: ${summary(wait)}`,
  )
  return { plain, wait, faultAt, promotedAt, switchedAt }
}

it('a planned failover (SENTINEL FAILOVER) under writes: the proxy follows at the announcement; in WAIT mode nothing acknowledged is lost', {
  timeout: 60_000,
}, async () => {
  expect(await currentMaster()).toBe(base)
  const { plain, wait, promotedAt, switchedAt } = await writesThrough(
    'planned',
    async () => {
      const sentinel = new Redis({ port: base + 3, protocol: 2 })
      expect(await sentinel.call('SENTINEL', 'FAILOVER', 'tiercache')).toBe('OK')
      sentinel.disconnect()
    },
    async () => (await currentMaster()) === base + 1,
  )
  expect(promotedAt, 'the replica was promoted').toBeGreaterThan(0)
  expect(switchedAt, 'the sentinels announced it').toBeGreaterThan(0)
  expect(plain.filter((w) => !w.ok)).toEqual([])
  expect(plain.filter((w) => w.ackAt > promotedAt).length).toBeGreaterThan(10)
  // The old master takes writes until the sentinels turn it into a replica (about 9 s later),
  // then drops them. The plain proxy leaves it at the announcement: what it loses is what the
  // old master acknowledged between the promotion and then, none later.
  const lost = await missingOn(base + 1, plain, 'planned:plain')
  // (A margin for this loaded machine: the proxy shares the test's event loop.)
  const lostAfterSwitch = lost.filter((w) => w.ackAt > switchedAt + 500)
  // WAIT mode: the old master lost its replica at the promotion, so its writes are answered 503.
  const waitLost = await missingOn(base + 1, wait, 'planned:wait')
  console.log(
    `[sentinel, planned] acknowledged writes missing on the new master: plain ${lost.length} ` +
      `(acknowledged up to +${Math.max(0, ...lost.map((w) => w.ackAt - switchedAt))} ms after the announcement), WAIT mode ${waitLost.length}`,
  )
  expect(lostAfterSwitch).toEqual([])
  expect(waitLost).toEqual([])
  // Until the sentinels make the old master its replica, the new master has none: WAIT mode
  // refuses writes (503 NOREPLICAS) rather than acknowledging what one more failure would lose.
  expect(wait.filter((w) => !w.ok && !w.error?.startsWith('NOREPLICAS'))).toEqual([])
})

/** The acknowledged writes the server on `port` does not hold. */
async function missingOn(port: number, writes: Write[], prefix: string): Promise<Write[]> {
  const direct = new Redis({ port, protocol: 2 })
  const acked = writes.filter((w) => w.ok)
  const missing: Write[] = []
  for (let at = 0; at < acked.length; at += 500) {
    const chunk = acked.slice(at, at + 500)
    const values = await direct.mget(...chunk.map((w) => `${prefix}:${w.i}`))
    chunk.forEach((w, j) => {
      if (values[j] !== String(w.i)) missing.push(w)
    })
  }
  direct.disconnect()
  return missing
}

it('the master SIGKILLed under writes: the sentinels promote its replica and the proxy follows, no write failed', {
  timeout: 60_000,
}, async () => {
  const victim = await currentMaster()
  const survivor = victim === base ? base + 1 : base
  // The replica in sync before the kill (a planned failover just made it one).
  expect(await replicaInStep(victim)).toBe(true)
  const { plain, wait, promotedAt } = await writesThrough(
    'killed',
    async () => {
      deployment.servers[victim - base]!.process.kill('SIGKILL')
    },
    async () => (await currentMaster()) === survivor,
  )
  expect(promotedAt, 'the replica was promoted').toBeGreaterThan(0)
  expect(plain.filter((w) => !w.ok)).toEqual([])
  expect(plain.filter((w) => w.ackAt > promotedAt).length).toBeGreaterThan(10)
  const lost = await missingOn(survivor, plain, 'killed:plain')
  const waitLost = await missingOn(survivor, wait, 'killed:wait')
  console.log(
    `[sentinel, killed] acknowledged writes missing on the new master: plain ${lost.length}, WAIT mode ${waitLost.length}`,
  )
  expect(waitLost).toEqual([])
  expect(wait.filter((w) => !w.ok && !w.error?.startsWith('NOREPLICAS'))).toEqual([])
  expect(await (await fetch(`${proxy.url}/readyz`)).json()).toEqual({ status: 'ready', mode: 'sentinel' })
})
