/**
 * The Hono middleware's cost: requests per second of a route answered by cacheMiddleware from L1
 * (x-cache: HIT) against the same route with no middleware, measured in the same run with
 * autocannon (50 connections), each server in its own process; they alternate, median of 3.
 * A third server shows the floor: an async middleware that answers a prebuilt body with the same
 * headers and does no cache work, i.e. what Hono and Node charge any such middleware.
 *
 *   npm run bench:hono            (5 s per round)
 *   npm run bench:hono -- --quick (2 s)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import autocannon from 'autocannon'
import { findFreePortRange } from '../../test/helpers/ports.js'

const SECONDS = process.argv.includes('--quick') ? 2 : 5
const CONNECTIONS = 50

/**
 * With two cores or more and `taskset` (util-linux), the servers run on core 1 and this process
 * (autocannon) on core 0. Left to the scheduler, a server sometimes shared a core with the load
 * generator for a whole round: runs of the same code read anywhere from 0.76× to 0.90×.
 */
const PIN = cpus().length >= 2 && spawnSync('sh', ['-c', 'command -v taskset']).status === 0

function server(mode: 'bare' | 'cached' | 'floor', port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const argv = ['node_modules/.bin/tsx', 'bench/hono/server.ts', mode, String(port)]
    const child = PIN
      ? spawn('taskset', ['-c', '1', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    child.stdout!.once('data', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)))
  })
}

async function rate(port: number): Promise<{ rps: number; errors: number; xcache: string | null }> {
  const url = `http://127.0.0.1:${port}/products/42`
  await fetch(url) // the first request fills the cache
  const xcache = (await fetch(url)).headers.get('x-cache')
  await autocannon({ url, connections: CONNECTIONS, duration: 1 }) // warm-up
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS })
  return { rps: result.requests.average, errors: result.errors + result.non2xx + result.timeouts, xcache }
}

async function main() {
  if (PIN) spawnSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' })
  const base = await findFreePortRange(3, false)
  const bare = await server('bare', base)
  const cached = await server('cached', base + 1)
  const floor = await server('floor', base + 2)
  const bareRates: number[] = []
  const cachedRates: number[] = []
  const floorRates: number[] = []
  let errors = 0
  let xcache: string | null = null
  try {
    for (let round = 0; round < 3; round++) {
      const b = await rate(base)
      const c = await rate(base + 1)
      const f = await rate(base + 2)
      bareRates.push(b.rps)
      cachedRates.push(c.rps)
      floorRates.push(f.rps)
      errors += b.errors + c.errors + f.errors
      xcache = c.xcache
    }
  } finally {
    bare.kill()
    cached.kill()
    floor.kill()
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!
  const ratio = median(cachedRates) / median(bareRates)
  console.log(
    `\nhono: ${CONNECTIONS} connections, ${SECONDS} s rounds, median of 3; ${cpus().length} cores${PIN ? ' (servers on core 1, autocannon on core 0)' : ''}, node ${process.version}\n`,
  )
  console.log('| route | requests/s (rounds) | median | vs bare |')
  console.log('| --- | --- | ---: | ---: |')
  const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')
  const row = (label: string, xs: number[]) =>
    console.log(
      `| ${label} | ${fmt(xs)} | ${Math.round(median(xs)).toLocaleString('en-US')} | ${(median(xs) / median(bareRates)).toFixed(2)}× |`,
    )
  row('bare Hono route', bareRates)
  row(`same route, cacheMiddleware HIT (x-cache: ${xcache})`, cachedRates)
  row('floor: an async middleware answering a prebuilt body with a HIT’s headers, no cache work', floorRates)
  console.log(`\nerrors: ${errors}; aim: HIT ≥ 90 % of the bare route: ${ratio >= 0.9 ? 'met' : 'NOT met'}`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
