/**
 * One process of the stampede benchmark: at each round's start instant, C concurrent reads of a
 * key that has just expired (a fresh key per round) through one library; the loader takes
 * LOAD_MS and counts itself in Redis. Prints the latencies (ms) as JSON.
 * argv: library, proxy URL, token, redis seed port, run id, rounds, concurrency, round ms, load ms, start at.
 */
import { cachified } from '@epic-web/cachified'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { Cluster } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { createCache } from '../../src/index.js'

const [library, url, token, seedPort, run, rounds, concurrency, roundMs, loadMs, startAt] =
  process.argv.slice(2) as string[] as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ]
const redis = new Cluster([{ host: '127.0.0.1', port: Number(seedPort) }], { redisOptions: { protocol: 2 } })

const loader = (key: string) => async () => {
  await redis.incr(`${key}:loads`)
  await new Promise((r) => setTimeout(r, Number(loadMs)))
  return { key, price: 42 }
}

type Get = (key: string) => Promise<unknown>
let get: Get
let close = async () => {}
if (library === 'tiercache') {
  const cache = createCache({ redis: { url, token }, namespace: `bench-${run}`, timeouts: { l2: '2s' } })
  get = (key) => cache.getOrLoad(key, loader(key))
  close = () => cache.settled()
} else if (library === 'bentocache') {
  // Its memory tier in front of its Redis tier, on the same cluster.
  const bento = new BentoCache({
    default: 'tiered',
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000 }))
        .useL2Layer(redisDriver({ connection: redis })),
    },
  })
  get = (key) => bento.getOrSet({ key, factory: loader(key), ttl: '1h' })
  close = async () => {}
} else {
  // cachified's Redis adapters are for node-redis; its in-process LRU is used here.
  const lru = new LRUCache<string, never>({ max: 10_000 })
  get = (key) => cachified({ key, cache: lru as never, getFreshValue: loader(key), ttl: 3_600_000 })
}

const latencies: number[] = []
for (let round = 0; round < Number(rounds); round++) {
  const at = Number(startAt) + round * Number(roundMs)
  await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())))
  const key = `stampede:${library}:${run}:${round}`
  await Promise.all(
    Array.from({ length: Number(concurrency) }, async () => {
      const started = performance.now()
      await get(key)
      latencies.push(performance.now() - started)
    }),
  )
}
await close()
redis.disconnect()
process.stdout.write(JSON.stringify(latencies))
process.exit(0)
