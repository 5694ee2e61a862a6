/**
 * The Hono middleware's cost: requests per second of a route answered by cacheMiddleware from L1
 * (x-cache: HIT) against the same route with no middleware, measured in the same run with
 * autocannon (50 connections), each server in its own process; they take turns (the order rotates
 * each round), median of 5 rounds (3 in quick mode).
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
import { median } from '../helpers/median.js'
import { cpuSeconds } from '../helpers/process-cpu.js'

const QUICK = process.argv.includes('--quick')
const SECONDS = QUICK ? 2 : 5
/** Rounds per server; each figure is the median of its rounds. */
const ROUNDS = QUICK ? 3 : 5
const CONNECTIONS = 50

/**
 * With two cores or more and `taskset` (util-linux), the servers run on core 1 and this process
 * (autocannon) on core 0. Left to the scheduler, a server sometimes shared a core with the load
 * generator for a whole round: runs of the same code read anywhere from 0.76× to 0.90×.
 */
const PIN = cpus().length >= 2 && spawnSync('sh', ['-c', 'command -v taskset']).status === 0

function server(mode: Mode, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const argv = ['node_modules/.bin/tsx', 'bench/hono/server.ts', mode, String(port)]
    const child = PIN
      ? spawn('taskset', ['-c', '1', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    child.stdout!.once('data', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)))
  })
}

async function rate(
  port: number,
  pid: number | undefined,
): Promise<{ rps: number; cpuUs: number | undefined; errors: number; xcache: string | null }> {
  const url = `http://127.0.0.1:${port}/products/42`
  await fetch(url) // the first request fills the cache
  const xcache = (await fetch(url)).headers.get('x-cache')
  await autocannon({ url, connections: CONNECTIONS, duration: 1 }) // warm-up
  const before = cpuSeconds(pid)
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS })
  const after = cpuSeconds(pid)
  const cpuUs =
    before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / result.requests.total
  return {
    rps: result.requests.average,
    cpuUs,
    errors: result.errors + result.non2xx + result.timeouts,
    xcache,
  }
}

type Mode = 'bare' | 'cached' | 'floor' | 'wrapped'

const LABELS: Record<Mode, string> = {
  bare: 'bare Hono route',
  cached: 'same route, cacheMiddleware HIT',
  floor: 'floor: an async middleware answering a prebuilt body with a HIT’s headers, no cache work',
  wrapped: 'same route wrapped in cached(), HIT (one handler: no middleware chain)',
}

async function main() {
  if (PIN) spawnSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' })
  const base = await findFreePortRange(4, false)
  const modes: Mode[] = ['bare', 'cached', 'floor', 'wrapped']
  const results = new Map(modes.map((mode) => [mode, { rates: [] as number[], cpu: [] as number[] }]))
  let errors = 0
  let xcache: string | null = null
  for (let round = 0; round < ROUNDS; round++) {
    // A fresh process for every server in every round: a Node process keeps whatever speed it
    // started with (this machine is bimodal), and one slow process must not decide all the rounds.
    // The order rotates each round, so no server always runs first or right after another.
    const order = modes.map((_, k) => (k + round) % modes.length)
    for (const i of order) {
      const mode = modes[i]!
      const child = await server(mode, base + i)
      try {
        const r = await rate(base + i, child.pid)
        results.get(mode)!.rates.push(r.rps)
        if (r.cpuUs !== undefined) results.get(mode)!.cpu.push(r.cpuUs)
        errors += r.errors
        if (mode === 'cached') xcache = r.xcache
        if (mode === 'wrapped' && r.xcache !== 'HIT')
          throw new Error(`the wrapped route answered x-cache: ${r.xcache}`)
      } finally {
        child.kill()
        await new Promise((resolve) => child.once('exit', resolve))
      }
    }
  }
  const bare = results.get('bare')!
  const ratio = median(results.get('cached')!.rates) / median(bare.rates)
  console.log(
    `\nhono: ${CONNECTIONS} connections, ${SECONDS} s rounds, median of ${ROUNDS} (a fresh server process each round, the order rotating); ${cpus().length} cores${PIN ? ' (servers on core 1, autocannon on core 0)' : ''}, node ${process.version}\n`,
  )
  console.log(
    '| route | requests/s (rounds) | median | vs bare | server CPU µs/request (median) | vs bare, by CPU |',
  )
  console.log('| --- | --- | ---: | ---: | ---: | ---: |')
  const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')
  const bareCpu = bare.cpu.length === ROUNDS ? median(bare.cpu) : undefined
  for (const mode of modes) {
    const { rates, cpu } = results.get(mode)!
    const label = mode === 'cached' ? `${LABELS[mode]} (x-cache: ${xcache})` : LABELS[mode]
    const cpuMedian = cpu.length === ROUNDS ? median(cpu) : undefined
    console.log(
      `| ${label} | ${fmt(rates)} | ${Math.round(median(rates)).toLocaleString('en-US')} | ` +
        `${(median(rates) / median(bare.rates)).toFixed(2)}× | ${cpuMedian === undefined ? '–' : cpuMedian.toFixed(1)} | ` +
        `${cpuMedian === undefined || bareCpu === undefined ? '–' : `${(bareCpu / cpuMedian).toFixed(2)}×`} |`,
    )
  }
  const wrappedRatio = median(results.get('wrapped')!.rates) / median(bare.rates)
  console.log(
    `\nerrors: ${errors}; aim: middleware HIT ≥ 90 % of the bare route: ${ratio.toFixed(2)}× (${ratio >= 0.9 ? 'met' : 'NOT met'}); ` +
      `the cached() route HIT: ${wrappedRatio.toFixed(2)}×`,
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
