#!/usr/bin/env node
// `npm start`: the main job on a local default. Makes sure redis-server is installed (as
// `npm test` does), starts the local 3+3 Redis Cluster and the tiercache proxy in front of it,
// shows a live round trip with the real @upstash/redis client, and serves until Ctrl-C.
// (The demo app on the embedded in-memory tier 2 arrives with the cache and its adapters.)
import { spawnSync } from 'node:child_process'
import { Redis } from '@upstash/redis'
import { startCluster, stopCluster } from '../dist/cluster/index.js'
import { startProxy } from '../dist/proxy/index.js'

const ensure = spawnSync('bash', ['scripts/ensure-redis.sh'], { stdio: 'inherit' })
if (ensure.status !== 0) process.exit(ensure.status ?? 1)

const port = Number(process.env.TIERCACHE_PORT ?? 8079)
const token = process.env.TIERCACHE_TOKEN ?? 'dev-token'
const basePort = Number(process.env.TIERCACHE_CLUSTER_PORT ?? 7000)

console.log(
  `starting a local Redis Cluster (3 masters + 3 replicas) on 127.0.0.1:${basePort}-${basePort + 5} ...`,
)
const status = await startCluster({ basePort, onProgress: (line) => console.log(`  ${line}`) }).catch(
  (error) => {
    console.error(`tiercache: ${error.message}`)
    process.exit(1)
  },
)
if (status.alreadyRunning) console.log('  (it was already running)')

const running = await startProxy({
  port,
  redis: `redis://127.0.0.1:${basePort}`,
  tokens: [{ token }],
  logger: 'warn',
})
const redis = new Redis({ url: running.url, token })
await redis.set('tiercache:hello', { from: 'tiercache', at: new Date().toISOString() })
const back = await redis.get('tiercache:hello')

console.log(`
tiercache proxy ready at ${running.url} (token "${token}"), in front of the cluster.
A live round trip through it just now, with @upstash/redis:
  set + get tiercache:hello -> ${JSON.stringify(back)}

Use it from any runtime:
  new Redis({ url: '${running.url}', token: '${token}' })   // import { Redis } from '@upstash/redis'
  curl -H 'Authorization: Bearer ${token}' -d '["INCR","visits"]' ${running.url}/
Health: ${running.url}/readyz   Metrics: ${running.url}/metrics

Ctrl-C stops the proxy and the cluster.`)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await running.close('2s')
  await stopCluster({ basePort })
  console.log('stopped the proxy and the cluster')
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
