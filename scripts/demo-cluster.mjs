#!/usr/bin/env node
// `npm run demo:cluster`: the demo app against real Redis. Makes sure redis-server is installed
// (as `npm test` does), starts the local 3+3 Redis Cluster and the tiercache proxy in front of it,
// shows a live round trip with the real @upstash/redis client, then runs the demo app
// (examples/demo) with UPSTASH_REDIS_REST_URL pointing at the proxy. Ctrl-C stops all three.
import { spawn, spawnSync } from 'node:child_process'
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
A live round trip through it just now, with @upstash/redis: ${JSON.stringify(back)}
Health: ${running.url}/readyz   Metrics: ${running.url}/metrics
`)

const demo = spawn('node_modules/.bin/tsx', ['examples/demo/main.ts'], {
  stdio: 'inherit',
  env: { ...process.env, UPSTASH_REDIS_REST_URL: running.url, UPSTASH_REDIS_REST_TOKEN: token },
})

let stopping = false
const stop = async (code = 0) => {
  if (stopping) return
  stopping = true
  demo.kill('SIGTERM')
  await running.close('2s')
  await stopCluster({ basePort })
  console.log('stopped the demo, the proxy and the cluster')
  process.exit(code)
}
demo.on('exit', (code) => void stop(code ?? 0))
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
