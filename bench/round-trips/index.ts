/**
 * Tier-2 round trips per cache operation, counted (not timed): HTTP requests the proxy received
 * and Redis commands inside them, read from the proxy's own metrics around each operation. A 3+3
 * cluster and the proxy are started on loopback. Each instance is a separate cache (its own L1).
 *
 *   npm run bench:round-trips
 */
import { type Cache, createCache } from '../../src/index.js'
import { startBenchCluster } from '../helpers/cluster-proxy.js'

async function main() {
  const cluster = await startBenchCluster('round-trips')
  const { proxy: running, token } = cluster
  const metrics = running.proxy.metrics
  const total = async (name: string) => {
    const metric = metrics.registry.getSingleMetric(name)
    const { values } = metric ? await metric.get() : { values: [] }
    return values.reduce((n, v) => n + Number(v.value), 0)
  }
  const count = async (work: () => Promise<unknown>) => {
    const [r0, c0] = [
      await total('tiercache_proxy_requests_total'),
      await total('tiercache_proxy_commands_total'),
    ]
    await work()
    return [
      (await total('tiercache_proxy_requests_total')) - r0,
      (await total('tiercache_proxy_commands_total')) - c0,
    ]
  }
  const namespace = `rt-${Date.now()}`
  const instance = (): Cache =>
    createCache({ redis: { url: running.url, token }, namespace, timeouts: { l2: '2s' }, xfetchBeta: 0 })
  const rows: Array<[string, number, number, string]> = []
  const row = async (label: string, work: () => Promise<unknown>, note = '') => {
    const [requests, commands] = await count(work)
    rows.push([label, requests ?? 0, commands ?? 0, note])
  }
  try {
    // Every script once on every master first: the first EVALSHA of a script on a node answers
    // NOSCRIPT and @upstash/redis sends EVAL (one more round trip, once per script per node).
    const warm = instance()
    const warmKeys = Array.from({ length: 60 }, (_, i) => `warm:${i}`)
    await warm.getMany(warmKeys, async (ks) => ks)
    await warm.settled()
    await Promise.all(warmKeys.map((k) => warm.getOrLoad(`${k}:one`, async () => k)))
    await warm.settled()
    await warm.write(warmKeys, async () => {}, { tags: ['warm'] })
    await Promise.all(warmKeys.map((k) => warm.set(`${k}:set`, 1)))
    const a = instance()
    const b = instance()
    const load = async (key: string) => ({ key, at: Date.now() })
    await row(
      'getOrLoad, miss, new instance',
      () => a.getOrLoad('k1', load).then(() => a.settled()),
      'stream cursor + read-and-lock, then the fenced fill',
    )
    await row(
      'getOrLoad, miss, warm instance',
      () => a.getOrLoad('k2', load).then(() => a.settled()),
      'read-and-lock, fill',
    )
    await row('getOrLoad, L1 hit (inside maxStaleness)', () => a.getOrLoad('k2', load))
    await row(
      'getOrLoad, tier-2 hit, other instance',
      () => b.getOrLoad('k2', load).then(() => b.settled()),
      'its first read also starts its cursor',
    )
    await row('getOrLoad, tier-2 hit, other instance again', () => b.getOrLoad('k1', load))
    const keys = Array.from({ length: 100 }, (_, i) => `m${i}`)
    const loadMany = async (ks: string[]) => ks.map((k) => ({ k }))
    await row(
      'getMany of 100, all missing',
      () => a.getMany(keys, loadMany).then(() => a.settled()),
      'one read; 100 fenced fills in one pipeline',
    )
    await row('getMany of 100, from tier 2 (other instance)', () => b.getMany(keys, loadMany))
    await row('getMany of 100, all in L1', () => b.getMany(keys, loadMany))
    await row(
      'write (1 key)',
      () => a.write('k1', async () => {}),
      'tombstone, then the stream entry (ordered)',
    )
    await row('write (10 keys, with a tag)', () =>
      a.write(keys.slice(0, 10), async () => {}, { tags: ['t'] }),
    )
    await row('set', () => a.set('k3', { v: 1 }).then(() => a.settled()), 'fenced put, then the stream entry')
    await row('invalidateTags', () => a.invalidateTags(['t']))
    await row('delete (1 key)', () => a.delete('k3'))
  } finally {
    await cluster.stop()
  }
  console.log(
    '\ntier-2 round trips per operation (HTTP requests to the proxy, Redis commands in them); 3+3 cluster\n',
  )
  console.log('| operation | HTTP requests | commands | what |')
  console.log('| --- | ---: | ---: | --- |')
  for (const [label, requests, commands, note] of rows)
    console.log(`| ${label} | ${requests} | ${commands} | ${note} |`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
