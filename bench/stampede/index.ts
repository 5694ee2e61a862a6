/**
 * Stampede: N processes × C concurrent requests on a key that has just expired, for several
 * rounds. Loader calls per expiry and p99 latency, for tiercache (fleet-wide single flight through
 * the proxy), bentocache (memory + Redis tiers) and @epic-web/cachified (Redis tier), in one run,
 * on a cluster this benchmark starts on loopback.
 *
 *   npm run bench:stampede            (N = 4, C = 100, 6 rounds, loader 100 ms)
 *   npm run bench:stampede -- --quick (3 rounds)
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { cpus } from 'node:os'
import { Cluster } from 'ioredis'
import { startBenchCluster } from '../helpers/cluster-proxy.js'

const quick = process.argv.includes('--quick')
const PROCESSES = 4
const CONCURRENCY = 100
const ROUNDS = quick ? 3 : 6
const ROUND_MS = 1500
const LOAD_MS = 100
const LIBRARIES = ['tiercache', 'bentocache', 'cachified'] as const

function runWorker(args: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('node_modules/.bin/tsx', ['bench/stampede/worker.ts', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c
    })
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`worker exited ${code}`)),
    )
  })
}

async function main() {
  const cluster = await startBenchCluster('stampede')
  const { proxy, token } = cluster
  const options = { basePort: cluster.basePort }
  const redis = new Cluster([{ host: '127.0.0.1', port: options.basePort }], {
    redisOptions: { protocol: 2 },
  })
  const rows: string[] = []
  try {
    for (const library of LIBRARIES) {
      const run = randomUUID().slice(0, 8)
      const startAt = Date.now() + 5000 // after every worker process has started
      const args = [
        library,
        proxy.url,
        token,
        String(options.basePort),
        run,
        String(ROUNDS),
        String(CONCURRENCY),
        String(ROUND_MS),
        String(LOAD_MS),
        String(startAt),
      ]
      const latencies = (await Promise.all(Array.from({ length: PROCESSES }, () => runWorker(args))))
        .flat()
        .sort((a, b) => a - b)
      const loads: number[] = []
      for (let round = 0; round < ROUNDS; round++)
        loads.push(Number((await redis.get(`stampede:${library}:${run}:${round}:loads`)) ?? 0))
      const p = (q: number) =>
        latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(0)
      const mean = loads.reduce((a, b) => a + b, 0) / loads.length
      rows.push(`| ${library} | ${mean.toFixed(2)} | ${Math.max(...loads)} | ${p(0.5)} | ${p(0.99)} |`)
    }
  } finally {
    redis.disconnect()
    await cluster.stop()
  }
  console.log(
    `\nstampede: ${PROCESSES} processes × ${CONCURRENCY} concurrent requests per expiry, ${ROUNDS} expiries, loader ${LOAD_MS} ms; ` +
      `3+3 cluster on loopback; ${cpus().length} cores, node ${process.version}\n`,
  )
  console.log('| library | loader calls per expiry (mean) | max | p50 ms | p99 ms |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const row of rows) console.log(row)
  console.log(
    '\naim: 1 loader call per expiry for any number of processes (per-process libraries make one per process)',
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
