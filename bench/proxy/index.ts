/**
 * Proxy benchmark: the tiercache proxy against webdis (an HTTP front for Redis, Debian package
 * `webdis`) and against direct ioredis, all on the same standalone redis-server on loopback, in
 * the same run. Prints requests/s, commands/s, p50/p99 and ratios against webdis.
 *
 *   npm run bench:proxy            (median of 5 rounds of 4 s per case)
 *   npm run bench:proxy -- --quick (one round of 2 s per case, a smoke run)
 *
 * The single GET of webdis and of the proxy (path style; one process, and two with `--workers 2`
 * against webdis's two threads) also runs under wrk (Debian package `wrk`, installed like webdis
 * when missing): a load generator that needs far less CPU than autocannon, so the servers rather
 * than the client set the pace.
 *
 * Every case gets a fresh server process in every round and the cases take turns, the order
 * rotating from round to round, so a slow process or a noisy spell of this shared machine does not
 * decide a ratio; each figure is the median of its rounds. Each server runs in its own process
 * (redis-server, webdis, a bare node:http + ioredis server as what node:http allows one process, the
 * proxy from dist/) so the load generator (autocannon, here) does not share an event loop with
 * what it measures. Where /proc exists, each case also reports the CPU its server's processes and
 * Redis used per request.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { findFreePortRange } from '../../test/helpers/ports.js'
import { cpuSeconds } from '../helpers/process-cpu.js'

const quick = process.argv.includes('--quick')
const SECONDS = quick ? 2 : 4
/** Rounds per case; each figure printed is the median of its rounds. */
const ROUNDS = quick ? 1 : 5
const CONNECTIONS = 50
const PIPELINE = 100
const TOKEN = 'bench-token'
const KEY = 'bench:key'

interface Row {
  name: string
  requestsPerSecond: number
  commandsPerSecond: number
  p50: number
  p99: number
  errors: number
  /** CPU (user + system) of the server's processes per request, in µs; undefined where not measured. */
  serverCpuUs?: number | undefined
  /** CPU of redis-server per request, in µs. */
  redisCpuUs?: number | undefined
}

const children: ChildProcess[] = []
const dir = mkdtempSync(join(tmpdir(), 'tiercache-bench-'))

function start(command: string, args: string[], stderr: 'inherit' | 'ignore' = 'inherit'): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', stderr] })
  children.push(child)
  return child
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(url)
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`${url} did not come up`)
}

function ensureWebdis(): boolean {
  if (spawnSync('sh', ['-c', 'command -v webdis']).status === 0) return true
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    console.log('installing webdis with apt-get ...')
    spawnSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq webdis >/dev/null'], {
      stdio: 'inherit',
    })
    return spawnSync('sh', ['-c', 'command -v webdis']).status === 0
  }
  console.log('webdis is not installed (Debian/Ubuntu: sudo apt-get install webdis); its rows are skipped')
  return false
}

function ensureWrk(): boolean {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status === 0) return true
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    spawnSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null'], {
      stdio: 'inherit',
    })
    return spawnSync('sh', ['-c', 'command -v wrk']).status === 0
  }
  console.log('wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk); its rows are skipped')
  return false
}

/** One wrk run (one thread, CONNECTIONS connections) of a GET: requests/s, p50/p99 in ms, errors. */
function runWrk(
  url: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<{ requests: number; perSecond: number; p50: number; p99: number; errors: number }> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency']
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`)
  return new Promise((resolve, reject) => {
    const wrk = spawn('wrk', [...args, url], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    wrk.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    wrk.on('error', reject)
    wrk.on('exit', () => {
      const ms = (label: string) => {
        const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out)
        if (!m) return Number.NaN
        return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1)
      }
      const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
      resolve({
        requests: total,
        perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
        p50: ms('50'),
        p99: ms('99'),
        errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
      })
    })
  })
}

/** The processes whose CPU a case is charged: the server's and Redis's. */
interface Pids {
  server?: number | undefined
  redis?: number | undefined
}

async function http(
  name: string,
  options: autocannon.Options,
  commandsPerRequest = 1,
  pids: Pids = {},
  client: 'autocannon' | 'wrk' = 'autocannon',
): Promise<Row> {
  const headers = (options.headers ?? {}) as Record<string, string>
  // A short warm-up, not measured: JIT, connection pools, Redis's own caches.
  if (client === 'wrk') await runWrk(String(options.url), headers, 1)
  else await autocannon({ ...options, connections: CONNECTIONS, duration: 1 })
  const before = { server: cpuSeconds(pids.server), redis: cpuSeconds(pids.redis) }
  let result: { requests: number; perSecond: number; p50: number; p99: number; errors: number }
  if (client === 'wrk') {
    result = await runWrk(String(options.url), headers, SECONDS)
  } else {
    const r = await autocannon({ ...options, connections: CONNECTIONS, duration: SECONDS })
    result = {
      requests: r.requests.total,
      perSecond: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.errors + r.non2xx + r.timeouts,
    }
  }
  const perRequest = (start: number | undefined, pid: number | undefined) => {
    const end = cpuSeconds(pid)
    return start === undefined || end === undefined ? undefined : ((end - start) * 1e6) / result.requests
  }
  return {
    name,
    requestsPerSecond: result.perSecond,
    commandsPerSecond: result.perSecond * commandsPerRequest,
    p50: result.p50,
    p99: result.p99,
    errors: result.errors,
    serverCpuUs: perRequest(before.server, pids.server),
    redisCpuUs: perRequest(before.redis, pids.redis),
  }
}

async function directIoredis(port: number): Promise<Row> {
  // The same concurrency as the HTTP cases: 50 commands in flight on one auto-pipelined client.
  const redis = new Redis({ port, protocol: 2, enableAutoPipelining: true })
  const latencies: number[] = []
  let errors = 0
  const run = async (ms: number, record: boolean) => {
    const end = performance.now() + ms
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end) {
          const t = performance.now()
          try {
            await redis.get(KEY)
          } catch {
            errors++
          }
          if (record) latencies.push(performance.now() - t)
        }
      }),
    )
  }
  await run(1000, false)
  const started = performance.now()
  await run(SECONDS * 1000, true)
  const seconds = (performance.now() - started) / 1000
  redis.disconnect()
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return {
    name: 'ioredis direct (GET, 50 in flight)',
    requestsPerSecond: latencies.length / seconds,
    commandsPerSecond: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
    errors,
  }
}

/** A server under test: how to start a fresh one, and what to send it. */
interface Case {
  name: string
  /** Starts a fresh server; resolves with its process once it answers. */
  start(): Promise<ChildProcess>
  request: autocannon.Options
  commandsPerRequest: number
  /** The load generator: autocannon (default), or wrk, a lighter one in C. */
  client?: 'wrk'
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** The median of each number of a case's rounds (p50, p99 and the rates alike). */
function medianRow(name: string, rounds: Row[]): Row {
  const median = (pick: (r: Row) => number | undefined): number | undefined => {
    const xs = rounds.map(pick).filter((x): x is number => x !== undefined)
    if (xs.length === 0) return undefined
    xs.sort((a, b) => a - b)
    const mid = Math.floor(xs.length / 2)
    return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2
  }
  return {
    name,
    requestsPerSecond: median((r) => r.requestsPerSecond)!,
    commandsPerSecond: median((r) => r.commandsPerSecond)!,
    p50: median((r) => r.p50)!,
    p99: median((r) => r.p99)!,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    serverCpuUs: median((r) => r.serverCpuUs),
    redisCpuUs: median((r) => r.redisCpuUs),
  }
}

async function main() {
  const base = await findFreePortRange(13, false)
  const [redisPort, webdisPort, proxyPort] = [base, base + 1, base + 2]
  const redisProcess = start('redis-server', [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ])
  const seed = new Redis({ port: redisPort, protocol: 2, retryStrategy: (n) => (n < 50 ? 50 : null) })
  seed.on('error', () => {}) // refused until redis-server is up; the retry strategy covers it
  await seed.set(KEY, 'x'.repeat(100))
  seed.disconnect()

  const cases: Case[] = []
  if (ensureWebdis()) {
    const config = join(dir, 'webdis.json')
    writeFileSync(
      config,
      JSON.stringify({
        redis_host: '127.0.0.1',
        redis_port: redisPort,
        http_host: '127.0.0.1',
        http_port: webdisPort,
        threads: 2,
        pool_size: 20,
        daemonize: false,
        database: 0,
        verbosity: 0,
        logfile: join(dir, 'webdis.log'),
      }),
    )
    cases.push({
      name: 'webdis single GET',
      start: async () => {
        // libevent warns on stderr for every connection autocannon drops at the end of a round.
        const webdis = start('webdis', [config], 'ignore')
        await waitForHttp(`http://127.0.0.1:${webdisPort}/PING`)
        return webdis
      },
      request: { url: `http://127.0.0.1:${webdisPort}/GET/${KEY}` },
      commandsPerRequest: 1,
    })
  }

  // What node:http itself allows one process: node:http and ioredis and no checks at all.
  const barePort = base + 3
  cases.push({
    name: 'bare node:http + ioredis, no checks',
    start: async () => {
      const bare = start('node_modules/.bin/tsx', [
        'bench/proxy/bare-server.ts',
        String(barePort),
        String(redisPort),
      ])
      await waitForHttp(`http://127.0.0.1:${barePort}/`)
      return bare
    },
    request: { url: `http://127.0.0.1:${barePort}/`, method: 'POST', body: JSON.stringify(['GET', KEY]) },
    commandsPerRequest: 1,
  })

  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
  const pipeline = JSON.stringify(Array.from({ length: PIPELINE }, () => ['GET', KEY]))
  // Two workers answering path-style GETs: measured under wrk only (below), where the client
  // leaves a core for a server with more than one thread.
  let workersPathStyleCase: Case | undefined
  for (const workers of [1, 2]) {
    const port = proxyPort + (workers - 1) * 5
    const proxyUrl = `http://127.0.0.1:${port}`
    const startProxy = async (front: 'raw' | 'node' = 'raw') => {
      const proxy = start('node', [
        'dist/cli/main.js',
        'proxy',
        '--mode',
        'standalone',
        '--redis',
        `redis://127.0.0.1:${redisPort}`,
        '--port',
        String(port),
        '--token',
        TOKEN,
        '--log-level',
        'warn',
        '--workers',
        String(workers),
        '--http-front',
        front,
      ])
      await waitForHttp(`${proxyUrl}/healthz`)
      return proxy
    }
    const label = workers === 1 ? 'tiercache proxy' : `tiercache proxy ×${workers} workers`
    const single = {
      url: `${proxyUrl}/`,
      method: 'POST' as const,
      headers,
      body: JSON.stringify(['GET', KEY]),
    }
    cases.push({
      name: `${label} single GET`,
      start: () => startProxy(),
      request: single,
      commandsPerRequest: 1,
    })
    if (workers === 1) {
      // What the raw HTTP/1.1 front buys: the same proxy with every request on node:http.
      cases.push({
        name: `${label} single GET, node:http front (--http-front node)`,
        start: () => startProxy('node'),
        request: single,
        commandsPerRequest: 1,
      })
      cases.push({
        name: `${label} single GET, path style (GET /GET/key, as webdis is asked)`,
        start: () => startProxy(),
        request: { url: `${proxyUrl}/GET/${KEY}`, headers: { authorization: `Bearer ${TOKEN}` } },
        commandsPerRequest: 1,
      })
      cases.push({
        name: `${label} single GET, base64`,
        start: () => startProxy(),
        request: { ...single, headers: { ...headers, 'upstash-encoding': 'base64' } },
        commandsPerRequest: 1,
      })
    }
    if (workers === 2) {
      workersPathStyleCase = {
        name: `${label} single GET, path style`,
        start: () => startProxy(),
        request: { url: `${proxyUrl}/GET/${KEY}`, headers: { authorization: `Bearer ${TOKEN}` } },
        commandsPerRequest: 1,
      }
    }
    cases.push({
      name: `${label} /pipeline (${PIPELINE} GETs)`,
      start: () => startProxy(),
      request: { url: `${proxyUrl}/pipeline`, method: 'POST', headers, body: pipeline },
      commandsPerRequest: PIPELINE,
    })
  }

  // The same single GET through wrk, a load generator in C that needs a fraction of autocannon's
  // CPU: on 2 cores autocannon can be what limits every server, and with a lighter client a
  // server with more than one thread (webdis has two) can use what autocannon left.
  const webdisCase = cases.find((c) => c.name === 'webdis single GET')
  const pathStyleCase = cases.find((c) => c.name.startsWith('tiercache proxy single GET, path style'))
  if (webdisCase && pathStyleCase && ensureWrk()) {
    cases.push({ ...webdisCase, name: 'webdis single GET (wrk)', client: 'wrk' })
    cases.push({ ...pathStyleCase, name: 'tiercache proxy single GET, path style (wrk)', client: 'wrk' })
    // webdis runs two threads: the proxy with two processes is the like-for-like comparison.
    if (workersPathStyleCase)
      cases.push({ ...workersPathStyleCase, name: `${workersPathStyleCase.name} (wrk)`, client: 'wrk' })
  }

  // Every case gets a fresh server process in every round, and the cases take turns: a Node
  // process keeps whatever speed it started with (this machine is bimodal), and a noisy spell of
  // the shared machine should fall on every case alike, not on one.
  const measured = new Map<string, Row[]>()
  for (let round = 0; round < ROUNDS; round++) {
    // The order rotates each round: no case always runs first, or always right after another.
    const order = cases.map((_, k) => cases[(k + round) % cases.length]!)
    for (const c of order) {
      const child = await c.start()
      const row = await http(
        c.name,
        c.request,
        c.commandsPerRequest,
        { server: child.pid, redis: redisProcess.pid },
        c.client,
      )
      await stop(child)
      measured.set(c.name, [...(measured.get(c.name) ?? []), row])
      if (ROUNDS > 1)
        console.log(`round ${round + 1}: ${c.name}: ${Math.round(row.requestsPerSecond)} requests/s`)
    }
  }
  const rows = cases.map((c) => medianRow(c.name, measured.get(c.name)!))
  rows.push(await directIoredis(redisPort))

  const webdis = rows.find((r) => r.name === 'webdis single GET')
  const webdisWrk = rows.find((r) => r.name === 'webdis single GET (wrk)')
  const proxyWrk = rows.find((r) => r.name === 'tiercache proxy single GET, path style (wrk)')
  const workersWrk = rows.find((r) => r.name === 'tiercache proxy ×2 workers single GET, path style (wrk)')
  const proxySingle = rows.find((r) => r.name === 'tiercache proxy single GET')!
  const proxyPathStyle = rows.find((r) => r.name.startsWith('tiercache proxy single GET, path style'))!
  const proxyPipeline = rows.find((r) => r.name.startsWith('tiercache proxy /pipeline'))!
  const workersPipeline = rows.find((r) => r.name.startsWith('tiercache proxy ×2 workers /pipeline'))!
  const workersSingle = rows.find((r) => r.name === 'tiercache proxy ×2 workers single GET')!
  const redisVersion = spawnSync('redis-server', ['--version']).stdout.toString().trim().split(' ')[2]
  console.log(
    `\nproxy benchmark: ${ROUNDS === 1 ? `one round of ${SECONDS} s per case` : `median of ${ROUNDS} rounds of ${SECONDS} s per case (a fresh server process each, cases taking turns in a rotating order)`}, ` +
      `${CONNECTIONS} connections, loopback; ${cpus().length} cores (${cpus()[0]?.model}), ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, redis ${redisVersion}\n`,
  )
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
  const cpu = (us: number | undefined) => (us === undefined ? '–' : us.toFixed(1))
  console.log(
    '| case | requests/s | commands/s | p50 ms | p99 ms | errors | server CPU µs/request | Redis CPU µs/request | commands/s vs webdis (same client) |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    // A wrk row against webdis under wrk: the same client on both sides.
    const against = r.name.endsWith('(wrk)') ? webdisWrk : webdis
    const ratio = against ? `${(r.commandsPerSecond / against.commandsPerSecond).toFixed(2)}×` : 'n/a'
    console.log(
      `| ${r.name} | ${fmt(r.requestsPerSecond)} | ${fmt(r.commandsPerSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} | ${cpu(r.serverCpuUs)} | ${cpu(r.redisCpuUs)} | ${ratio} |`,
    )
  }
  if (webdis) {
    const aim = (row: Row, base: Row = webdis) => {
      const rounds = measured
        .get(base.name)!
        .map((w, i) => measured.get(row.name)![i]!.requestsPerSecond / w.requestsPerSecond)
      return (
        `${(row.requestsPerSecond / base.requestsPerSecond).toFixed(2)}× ` +
        `(${row.requestsPerSecond >= base.requestsPerSecond ? 'met' : 'NOT met'}` +
        `${ROUNDS > 1 ? `; round by round ${rounds.map((r) => `${r.toFixed(2)}×`).join(', ')}` : ''})`
      )
    }
    console.log(
      `\naims: proxy single ≥ webdis single: the same request as webdis (GET /GET/key) ${aim(proxyPathStyle)}; ` +
        `as @upstash/redis sends it (POST / with a JSON body) ${aim(proxySingle)}; ` +
        (webdisWrk && proxyWrk ? `path style with wrk as the client ${aim(proxyWrk, webdisWrk)}; ` : '') +
        `pipelined commands/s ≥ 5× webdis single: ${(proxyPipeline.commandsPerSecond / webdis.commandsPerSecond).toFixed(2)}× ` +
        `(${proxyPipeline.commandsPerSecond >= 5 * webdis.commandsPerSecond ? 'met' : 'NOT met'}); ` +
        `with 2 workers: single ${(workersSingle.requestsPerSecond / webdis.requestsPerSecond).toFixed(2)}×, ` +
        `pipelined ${(workersPipeline.commandsPerSecond / webdis.commandsPerSecond).toFixed(2)}×` +
        (webdisWrk && workersWrk ? `, path style with wrk ${aim(workersWrk, webdisWrk)}` : ''),
    )
  }
  const errors = rows.reduce((sum, r) => sum + r.errors, 0)
  if (errors > 0) process.exitCode = 1
}

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => {
    for (const child of children) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
