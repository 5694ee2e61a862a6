/**
 * Real standalone Redis servers and Sentinels for tests, started from the local binaries in
 * the foreground (each its own child process), stopped with the test.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

/** A running server; `stop()` kills it and removes its directory. */
export interface RedisProcess {
  port: number
  process: ChildProcess
  stop(): Promise<void>
}

/**
 * Starts `redis-server` with the given config lines (plus port, dir, no persistence).
 * @param sentinel run as a Sentinel (`redis-server <conf> --sentinel`)
 */
export async function startRedisServer(
  port: number,
  lines: string[] = [],
  sentinel = false,
): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), `tiercache-redis-${port}-`))
  const conf = join(dir, 'redis.conf')
  writeFileSync(
    conf,
    [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no', ...lines, ''].join('\n'),
  )
  const child = spawn('redis-server', sentinel ? [conf, '--sentinel'] : [conf], { stdio: 'ignore' })
  const deadline = Date.now() + 10_000
  for (;;) {
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      protocol: 2, // ioredis 6 would open with HELLO 3, which a password-protected server refuses
      lazyConnect: true,
      enableReadyCheck: false, // its INFO would fail with NOAUTH on a server that wants a password
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    })
    probe.on('error', () => {})
    try {
      await probe.connect()
      // Any reply, NOAUTH included, means the server is up.
      await probe.ping().catch((error: Error) => {
        if (error.name !== 'ReplyError') throw error
      })
      break
    } catch {
      if (Date.now() > deadline) {
        // Do not leak the process (or its folder) when it never answered.
        child.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
        throw new Error(`redis-server on ${port} did not start`)
      }
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      probe.disconnect()
    }
  }
  return {
    port,
    process: child,
    stop: async () => {
      // Still running (a server a test killed has a signalCode and no exitCode: it already exited).
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
