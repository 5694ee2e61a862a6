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

/** A small production Sentinel deployment: a master, its replica, three sentinels (quorum 2). */
export interface SentinelDeployment {
  /** The data servers' ports: `[master, replica]` as started. */
  dataPorts: [number, number]
  /** `host:port` of each sentinel, as the proxy's `--sentinels` takes them. */
  sentinels: string[]
  /** The name the sentinels watch the master by. */
  masterName: string
  /** Master, replica, then the sentinels. */
  servers: RedisProcess[]
  stop(): Promise<void>
}

/**
 * Starts a master, a replica and three sentinels on five free ports from `base`, the replica in
 * sync and every sentinel aware of it before this returns (so a failover can be asked for at once).
 */
export async function startSentinelDeployment(base: number): Promise<SentinelDeployment> {
  const masterName = 'tiercache'
  const servers = [
    await startRedisServer(base),
    await startRedisServer(base + 1, [`replicaof 127.0.0.1 ${base}`]),
  ]
  for (let i = 2; i < 5; i++) {
    const lines = [
      `sentinel monitor ${masterName} 127.0.0.1 ${base} 2`,
      `sentinel down-after-milliseconds ${masterName} 2000`,
      `sentinel failover-timeout ${masterName} 10000`,
    ]
    servers.push(await startRedisServer(base + i, lines, true))
  }
  await replicaInStep(base)
  for (let i = 2; i < 5; i++) {
    const sentinel = new Redis({ port: base + i, protocol: 2 })
    for (let tries = 0; tries < 100; tries++) {
      if (((await sentinel.call('SENTINEL', 'REPLICAS', masterName)) as unknown[]).length > 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    sentinel.disconnect()
  }
  return {
    dataPorts: [base, base + 1],
    sentinels: [2, 3, 4].map((i) => `127.0.0.1:${base + i}`),
    masterName,
    servers,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()))
    },
  }
}

/**
 * Waits (up to 10 s) until the master on `port` has a replica acknowledging its writes (`WAIT 1`):
 * a new replica may still be loading its first copy, and a failover asked for before it has one
 * does not happen.
 * @returns whether one acknowledged
 */
export async function replicaInStep(port: number): Promise<boolean> {
  const master = new Redis({ port, protocol: 2 })
  try {
    for (let tries = 0; tries < 100; tries++)
      if (Number(await master.call('WAIT', '1', '100')) >= 1) return true
    return false
  } finally {
    master.disconnect()
  }
}
