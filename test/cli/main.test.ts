/**
 * The `tiercache` command as users run it: a real process, real flags and environment.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { get as httpGet } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'
import { describe, expect, inject, it } from 'vitest'
import { TOKENS } from '../helpers/proxy.js'

const TSX = 'node_modules/.bin/tsx'
const MAIN = 'src/cli/main.ts'

/**
 * Runs the command to its exit; with `killAfterMs`, a process still running then is killed
 * (code null) with its whole group: tsx runs the CLI in a child process, and proxy workers are
 * children of that, so killing tsx alone would leave them running.
 */
function run(
  args: string[],
  env: Record<string, string> = {},
  killAfterMs?: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [MAIN, ...args], { env: { ...process.env, ...env }, detached: true })
    if (killAfterMs !== undefined) {
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          // already gone
        }
      }, killAfterMs)
      child.on('exit', () => clearTimeout(timer))
    }
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c
    })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** GET on a connection of its own (no keep-alive agent): node:cluster deals connections to workers. */
function scrapeOnNewConnection(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        body += chunk
      })
      response.on('end', () => resolve(body))
    }).on('error', reject)
  })
}

/**
 * Runs each command line to its exit, a few at a time: each one starts tsx and the CLI's imports
 * (about a second of CPU), and a crowd of them on a busy 2-core machine would outlast any kill
 * timer. A process still running after 30 s (wrongly started) is killed.
 */
async function runEach(lines: Array<[string[], Record<string, string>]>, atOnce = 3) {
  const results: Array<Awaited<ReturnType<typeof run>>> = new Array(lines.length)
  let next = 0
  const lane = async () => {
    while (next < lines.length) {
      const i = next++
      results[i] = await run(lines[i]![0], lines[i]![1], 30_000)
    }
  }
  await Promise.all(Array.from({ length: atOnce }, lane))
  return results
}

describe('tiercache CLI', () => {
  it('--help documents every proxy flag with its environment twin', async () => {
    const { code, stdout } = await run(['proxy', '--help'])
    expect(code).toBe(0)
    for (const flag of [
      '--port',
      '--host',
      '--mode',
      '--redis',
      '--token',
      '--read-only-token',
      '--admin-token',
      '--tokens-file',
    ]) {
      expect(stdout).toContain(flag)
    }
    for (const env of [
      'TIERCACHE_REDIS_URL',
      'TIERCACHE_TOKEN',
      'TIERCACHE_SENTINELS',
      'TIERCACHE_MASTER_NAME',
    ])
      expect(stdout).toContain(env)
    const cluster = await run(['cluster', '--help'])
    expect(cluster.stdout).toMatch(
      /--base-port P[\s\S]*--dir D[\s\S]*--masters N[\s\S]*--replicas N[\s\S]*--persist/,
    )
  })

  it('bad flags and options are named, without a stack trace', async () => {
    const noToken = await run(['proxy'], { TIERCACHE_TOKEN: '' })
    expect(noToken.code).toBe(1)
    expect(noToken.stderr).toMatch(/^tiercache: Invalid option --token: at least one token is required/)
    const badPort = await run(['proxy', '--token', 'x', '--port', 'eighty'])
    expect(badPort.stderr).toMatch(/Invalid option --port: must be an integer, got "eighty"/)
    const badMode = await run(['proxy', '--token', 'x', '--mode', 'galaxy'])
    expect(badMode.stderr).toMatch(/Invalid option --mode: must be cluster, standalone or sentinel/)
    const unknown = await run(['proxy', '--frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/Unknown option '--frobnicate'/)
    expect(unknown.stderr).not.toMatch(/at .*\.ts:\d+/)
    const badCommand = await run(['launch'])
    expect(badCommand.code).toBe(2)
    expect(badCommand.stderr).toMatch(/unknown command "launch"; expected proxy, cluster/)
  })

  it('a misspelt flag, command or action comes with the one meant; --version prints the version', async () => {
    const [flag, command, action, clusterFlag, version] = await runEach([
      [['proxy', '--tokne', 'x'], {}],
      [['prxy'], {}],
      [['cluster', 'strat'], {}],
      [['cluster', 'start', '--base-prot', '7000'], {}],
      [['--version'], {}],
    ])
    expect(flag!.stderr).toMatch(/^tiercache: Unknown option '--tokne' \(did you mean --token\?\)\n/)
    expect(flag!.code).toBe(2)
    expect(command!.stderr).toMatch(
      /^unknown command "prxy" \(did you mean proxy\?\); expected proxy, cluster/,
    )
    expect(command!.code).toBe(2)
    expect(action!.stderr).toMatch(
      /^unknown cluster action "strat" \(did you mean start\?\); expected start, stop, status/,
    )
    expect(action!.code).toBe(2)
    expect(clusterFlag!.stderr).toMatch(/Unknown option '--base-prot' \(did you mean --base-port\?\)/)
    expect(clusterFlag!.code).toBe(2)
    const manifest = JSON.parse(readFileSync('package.json', 'utf8'))
    expect(version!.stdout).toBe(`${manifest.version}\n`)
    expect(version!.code).toBe(0)
  })

  it('each bad value is named by the flag or the environment variable that set it, before anything starts', {
    timeout: 120_000,
  }, async () => {
    // A case that wrongly starts a proxy (on a port of the system's choosing) is killed after 10 s.
    const base = ['proxy', '--token', 'x', '--port', '0']
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--max-body=-5'], {}, /Invalid option --max-body: must be a positive integer, got -5/],
      [['--max-commands', '0'], {}, /Invalid option --max-commands: must be a positive integer, got 0/],
      [['--max-blocking=-1'], {}, /Invalid option --max-blocking: must be a positive integer/],
      [
        ['--deadline', 'soon'],
        {},
        /Invalid option --deadline: must be a number of milliseconds or a string like/,
      ],
      [['--max-block', 'xyz'], {}, /Invalid option --max-block: must be a number of milliseconds/],
      // Past a timer's longest wait: every deadline would have fired after 1 ms.
      [['--deadline', '30d'], {}, /Invalid option --deadline: must be at most 2147483647 ms \(24\.8 days/],
      [['--replica-ack-timeout', '0'], {}, /Invalid option --replica-ack-timeout: must be more than 0/],
      [['--min-replica-acks=-1'], {}, /Invalid option --min-replica-acks: must be an integer ≥ 0, got -1/],
      [
        [],
        { TIERCACHE_DEADLINE: 'soon' },
        /Invalid option TIERCACHE_DEADLINE: must be a number of milliseconds/,
      ],
      [
        [],
        { TIERCACHE_MAX_BODY: '0' },
        /Invalid option TIERCACHE_MAX_BODY: must be a positive integer, got 0/,
      ],
      [
        ['--max-body', '0'],
        { TIERCACHE_MAX_BODY: '10' },
        /Invalid option --max-body: must be a positive integer/,
      ],
      [
        ['--log-level', 'loud'],
        {},
        /Invalid option --log-level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/,
      ],
      // Read at start, not at the first SIGTERM: a bad drain must not let the proxy start.
      [['--drain', 'later'], {}, /Invalid option --drain: must be a number of milliseconds/],
      [['--mode', 'sentinel'], {}, /Invalid option --sentinels: sentinel mode needs at least one host:port/],
      [
        ['--mode', 'sentinel', '--sentinels', '127.0.0.1:26379'],
        {},
        /Invalid option --master-name: sentinel mode needs the name/,
      ],
      [
        ['--mode', 'standalone', '--redis', 'redis://127.0.0.1:7000,127.0.0.1:7001'],
        {},
        /Invalid option --redis: standalone mode takes one host:port, got 2/,
      ],
      [['--redis', 'http://127.0.0.1:7000'], {}, /Invalid option --redis: unsupported scheme http:/],
      // node:net's RangeError and its stack, before.
      [
        ['--port', '99999'],
        {},
        /Invalid option --port: must be an integer from 0 to 65535 \(0: any free port\), got 99999/,
      ],
      [
        ['--redis-ca', '/nonexistent/ca.pem', '--redis', 'rediss://127.0.0.1:7000'],
        {},
        /Invalid option --redis-ca: cannot read \/nonexistent\/ca.pem/,
      ],
    ]
    const results = await runEach(cases.map(([args, env]) => [[...base, ...args], env]))
    results.forEach((result, i) => {
      const [args, env, expected] = cases[i]!
      const label = `${args.join(' ')} ${JSON.stringify(env)}`
      expect(result.stderr, label).toMatch(new RegExp(`^tiercache: ${expected.source}`))
      expect(result.stderr, label).not.toMatch(/at .*\.[jt]s:\d+/)
      expect(result.code, label).toBe(1)
      expect(result.stdout, label).not.toMatch(/listening/)
    })
  })

  it('the proxy runs as a process, configured from the environment, and stops cleanly on SIGTERM', async () => {
    const child: ChildProcess = spawn(TSX, [MAIN, 'proxy', '--port', '0'], {
      env: {
        ...process.env,
        TIERCACHE_TOKEN: TOKENS.standard,
        TIERCACHE_REDIS_URL: inject('clusterUrl'),
        TIERCACHE_LOG_LEVEL: 'info',
      },
    })
    let output = ''
    child.stdout!.on('data', (c: Buffer) => {
      output += c
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    await expect.poll(() => /"url":"(http:[^"]+)"/.exec(output)?.[1], { timeout: 15_000 }).toBeTruthy()
    const url = /"url":"(http:[^"]+)"/.exec(output)![1]!
    // Structured JSON log lines, the upstream's connection among them (in either order).
    await expect.poll(() => output, { timeout: 15_000 }).toMatch(/"msg":"upstream connected"/)
    const logged = output
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string })
    expect(logged.find((line) => line.msg === 'tiercache proxy listening')).toMatchObject({
      level: 30,
      mode: 'cluster',
    })
    const response = await fetch(`${url}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.standard}` },
      body: '["PING"]',
    })
    expect(await response.json()).toEqual({ result: 'PONG' })
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(output).toMatch(/"msg":"stopped"/)
  })

  it('--workers 2 runs two proxy processes on one port; a group SIGTERM drains both', async () => {
    const child: ChildProcess = spawn(TSX, [MAIN, 'proxy', '--port', '0', '--workers', '2'], {
      env: { ...process.env, TIERCACHE_TOKEN: TOKENS.standard, TIERCACHE_REDIS_URL: inject('clusterUrl') },
      detached: true, // its own process group, as under docker or systemd
    })
    let output = ''
    child.stdout!.on('data', (c: Buffer) => {
      output += c
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    await expect
      .poll(() => output.match(/tiercache proxy listening/g)?.length ?? 0, { timeout: 20_000 })
      .toBe(2)
    const url = /"url":"(http:[^"]+)"/.exec(output)![1]!
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${url}/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKENS.standard}` },
          body: '["PING"]',
        }).then((r) => r.json()),
      ),
    )
    expect(replies).toEqual(Array.from({ length: 20 }, () => ({ result: 'PONG' })))
    // Each scrape on a new connection, so the primary hands them to both workers in turn: each
    // answers with the sum over both. A worker's own counters alternated (say 10, 16, 10, 16),
    // which Prometheus reads as a counter reset at every drop.
    for (let scrape = 0; scrape < 4; scrape++) {
      const text = await scrapeOnNewConnection(`${url}/metrics`)
      expect(text).toMatch(/^tiercache_proxy_processes 2$/m)
      expect(text).toMatch(/^tiercache_proxy_requests_total\{route="\/",status="200"\} 20$/m)
      expect(text).toMatch(/^tiercache_proxy_commands_total\{command="ping"\} 20$/m)
    }
    process.kill(-child.pid!, 'SIGTERM') // the whole group: primary and workers each get it
    expect(await exited).toBe(0)
    expect(output.match(/"msg":"stopped"/g)).toHaveLength(2)
    expect(output).toMatch(/all workers stopped/)
  })

  it('a port in use or a host not of this machine: named, and the process exits (no upstream left retrying)', {
    timeout: 60_000,
  }, async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as AddressInfo
    try {
      const [inUse, badHost] = (await runEach([
        [['proxy', '--token', 'x', '--port', String(port)], {}],
        [['proxy', '--token', 'x', '--port', '0', '--host', '10.255.255.1'], {}],
      ])) as [Awaited<ReturnType<typeof run>>, Awaited<ReturnType<typeof run>>]
      expect(inUse.stderr).toMatch(
        new RegExp(`^tiercache: Invalid option --port: 127\\.0\\.0\\.1:${port} is already in use`),
      )
      expect(inUse.code).toBe(1)
      expect(badHost.stderr).toMatch(
        /^tiercache: Invalid option --host: 10\.255\.255\.1 is not an address of this machine/,
      )
      expect(badHost.code).toBe(1)
    } finally {
      holder.close()
    }
  })

  it('--workers 2 with a bad option: each worker says why, and the primary stops and exits 1', {
    timeout: 60_000,
  }, async () => {
    const { code, stdout, stderr } = await run(
      ['proxy', '--token', 'x', '--port', '0', '--workers', '2', '--max-body=-5', '--log-level', 'info'],
      {},
      45_000,
    )
    expect(code).toBe(1)
    expect(stderr).toMatch(/^tiercache: Invalid option --max-body: must be a positive integer, got -5/)
    expect(stdout).toMatch(/"msg":"a worker could not start \(its error is above\); stopping"/)
    expect(stdout).not.toMatch(/starting a new one/)
  })

  it('cluster status on ports where nothing runs says so and exits 1', async () => {
    const { code, stdout } = await run([
      'cluster',
      'status',
      '--base-port',
      '39000',
      '--dir',
      '/tmp/tiercache-nothing-here',
    ])
    expect(code).toBe(1)
    expect(stdout).toMatch(/cluster NOT healthy/)
    expect(stdout).toMatch(/39000 {2}pid - {2}down/)
  })

  it('cluster start names a bad value by its flag, and starts nothing', { timeout: 60_000 }, async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['--masters', '2'],
        /^tiercache: Invalid option --masters: Redis Cluster needs at least 3 masters, got 2/,
      ],
      [['--replicas=-1'], /^tiercache: Invalid option --replicas: must be a non-negative integer, got -1/],
      [['--base-port', '60000'], /^tiercache: Invalid option --base-port: must leave room for 6 ports/],
      [['--base-port', 'x'], /^tiercache: Invalid option --base-port: must be an integer, got "x"/],
      [['--timeout', 'soon'], /^tiercache: Invalid option --timeout: must be a number of milliseconds/],
    ]
    const dir = '/tmp/tiercache-cli-bad-cluster'
    const results = await runEach(
      cases.map(([args]) => [['cluster', 'start', '--dir', dir, '--base-port', '39100', ...args], {}]),
    )
    results.forEach((result, i) => {
      expect(result.stderr, cases[i]![0].join(' ')).toMatch(cases[i]![1])
      expect(result.code).toBe(1)
      expect(result.stdout).not.toMatch(/started/)
    })
  })
})
