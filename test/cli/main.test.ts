/**
 * The `tiercache` command as users run it: a real process, real flags and environment.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { describe, expect, inject, it } from 'vitest'
import { TOKENS } from '../helpers/proxy.js'

const TSX = 'node_modules/.bin/tsx'
const MAIN = 'src/cli/main.ts'

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [MAIN, ...args], { env: { ...process.env, ...env } })
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
    expect(badCommand.stderr).toMatch(/unknown command "launch"/)
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
    // Structured JSON log lines.
    expect(JSON.parse(output.split('\n')[0]!)).toMatchObject({
      level: 30,
      msg: 'tiercache proxy listening',
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
    process.kill(-child.pid!, 'SIGTERM') // the whole group: primary and workers each get it
    expect(await exited).toBe(0)
    expect(output.match(/"msg":"stopped"/g)).toHaveLength(2)
    expect(output).toMatch(/all workers stopped/)
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
})
