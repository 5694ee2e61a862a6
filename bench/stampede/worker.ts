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
import { redisCacheAdapter } from 'cachified-redis-adapter'
import { Cluster } from 'ioredis'
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
  // cachified with its Redis tier (cachified-redis-adapter, written for node-redis: a small shim
  // maps its three calls onto the same ioredis cluster client).
  const shim = {
    get: (k: string) => redis.get(k),
    del: (k: string) => redis.del(k),
    set: (k: string, v: string, o?: { EXAT: number }) =>
      o?.EXAT ? redis.set(k, v, 'EXAT', o.EXAT) : redis.set(k, v),
  }
  const cache = redisCacheAdapter(shim)
  get = (key) => cachified({ key, cache, getFreshValue: loader(key), ttl: 3_600_000 })
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
