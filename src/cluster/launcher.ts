/**
 * A local Redis Cluster without Docker: N masters with R replicas each, from `redis-server` on
 * loopback. Backs `tiercache cluster start|stop|status` and the test suite's global setup.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Redis } from 'ioredis'
import { type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError, TiercacheError } from '../errors.js'
import { describeValue } from '../option-names.js'
import { type ClusterNodeLine, formatSlots, parseClusterNodes, parseInfo } from './cluster-nodes.js'
import { renderNodeConfig } from './node-config.js'
import { livePid, sleep, spawnError, spawnRedisServer, stopProcess } from './node-process.js'
import { portIsFree } from './port-check.js'
import { portHolder } from './port-holder.js'

const TOTAL_SLOTS = 16384

/** Options of the local cluster; every one has a default. */
export interface ClusterLauncherOptions {
  /** Port of the first node; the others follow (bus ports are +10000). @default 7000 */
  basePort?: number
  /** Directory holding one folder per node (config, nodes.conf, pid, log, data). @default '.tiercache/cluster' */
  dir?: string
  /** Number of masters (Redis Cluster needs at least 3). @default 3 */
  masters?: number
  /** Replicas per master. @default 1 */
  replicas?: number
  /** Interface to bind. @default '127.0.0.1' */
  host?: string
  /** Use the production persistence profile (AOF everysec + RDB). @default false */
  persist?: boolean
  /** redis-server binary. @default 'redis-server' */
  redisServer?: string
  /** redis-cli binary (used for `--cluster create`). @default 'redis-cli' */
  redisCli?: string
  /** How long `start` may wait for the cluster to be healthy. @default '60s' */
  timeout?: Duration
  /** Receives one line per step, for a CLI to print. */
  onProgress?: (line: string) => void
}

/** What one node looks like right now. */
export interface ClusterNodeStatus {
  port: number
  /** Process id from the node's pid file, when the process is alive. */
  pid: number | undefined
  running: boolean
  role: 'master' | 'replica' | undefined
  /** For a replica: its master's port. */
  masterPort: number | undefined
  /** Inclusive slot ranges served (masters). */
  slots: Array<[number, number]>
  /** `cluster_state` as this node sees it (`ok` or `fail`). */
  state: string | undefined
  /** For a replica: `master_link_status` (`up` once it has synced). */
  link: string | undefined
}

/** The whole cluster. */
export interface ClusterStatus {
  host: string
  nodes: ClusterNodeStatus[]
  /** Every node running, `cluster_state:ok` everywhere, every replica linked, all slots served. */
  healthy: boolean
  /** `start` found the cluster already running and changed nothing. */
  alreadyRunning: boolean
}

type ResolvedOptions = Required<Omit<ClusterLauncherOptions, 'timeout' | 'onProgress'>> & {
  timeoutMs: number
  onProgress: (line: string) => void
  ports: number[]
}

function resolveOptions(options: ClusterLauncherOptions): ResolvedOptions {
  const {
    basePort = 7000,
    dir = '.tiercache/cluster',
    masters = 3,
    replicas = 1,
    host = '127.0.0.1',
    persist = false,
    redisServer = 'redis-server',
    redisCli = 'redis-cli',
    timeout = '60s',
    onProgress = () => {},
  } = options
  if (!Number.isInteger(masters) || masters < 3) {
    throw new InvalidOptionError(
      'masters',
      `Redis Cluster needs at least 3 masters, got ${describeValue(masters)}`,
    )
  }
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new InvalidOptionError('replicas', `must be a non-negative integer, got ${describeValue(replicas)}`)
  }
  const count = masters * (1 + replicas)
  // The cluster bus listens on port + 10000, which must also be a valid port.
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + count - 1 + 10000 > 65535) {
    throw new InvalidOptionError(
      'basePort',
      `must leave room for ${count} ports and their bus ports (+10000), got ${describeValue(basePort)}`,
    )
  }
  const ports = Array.from({ length: count }, (_, i) => basePort + i)
  return {
    basePort,
    dir: resolve(dir),
    masters,
    replicas,
    host,
    persist,
    redisServer,
    redisCli,
    timeoutMs: parseDuration(timeout, 'timeout'),
    onProgress,
    ports,
  }
}

const nodeDir = (o: ResolvedOptions, port: number) => join(o.dir, String(port))
const pidFile = (o: ResolvedOptions, port: number) => join(nodeDir(o, port), 'redis.pid')

async function withNode<T>(host: string, port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  // One short-lived admin connection; no retries, so a dead node fails fast instead of hanging.
  const redis = new Redis({
    host,
    port,
    protocol: 2,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await fn(redis)
  } finally {
    redis.disconnect()
  }
}

async function ping(host: string, port: number): Promise<boolean> {
  try {
    return (await withNode(host, port, (r) => r.ping())) === 'PONG'
  } catch {
    return false
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new TiercacheError('E_CLUSTER_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(100)
  }
}

function logTail(o: ResolvedOptions, port: number): string {
  const file = join(nodeDir(o, port), 'redis.log')
  if (!existsSync(file)) return '(no log)'
  return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n')
}

async function runRedisCli(o: ResolvedOptions, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(o.redisCli, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString()
    })
    child.on('error', (error) => reject(spawnError(o.redisCli, error)))
    child.on('exit', (code) => {
      if (code === 0) resolvePromise(output)
      else
        reject(
          new TiercacheError(
            'E_CLUSTER_CREATE',
            `${o.redisCli} ${args.join(' ')} failed (${code}):\n${output}`,
          ),
        )
    })
  })
}

/**
 * Starts the cluster, or reports it when it already runs. Stale pid files from a crash are
 * removed and their nodes restarted with their saved cluster state (nodes.conf).
 * Resolves once every node reports `cluster_state:ok` and every replica's link is up.
 * @throws {TiercacheError} E_PORT_IN_USE (naming the process that holds it, where the system says;
 *   no node is started then), E_CLUSTER_TIMEOUT, E_CLUSTER_INCONSISTENT, E_REDIS_SPAWN, E_CLUSTER_CREATE
 */
export async function startCluster(options: ClusterLauncherOptions = {}): Promise<ClusterStatus> {
  const o = resolveOptions(options)
  // Every port is checked before any node starts: a refusal leaves nothing new running (nodes
  // started before a taken port was reached were left behind, under the base port the message
  // then told the user to change).
  const toStart = o.ports.filter((port) => livePid(pidFile(o, port)) === undefined)
  for (const port of toStart) {
    for (const needed of [port, port + 10000]) {
      if (!(await portIsFree(o.host, needed))) {
        throw new TiercacheError(
          'E_PORT_IN_USE',
          `port ${o.host}:${needed} is in use by ${portHolder(needed) ?? 'a process'}, not a node of the cluster in ` +
            `${o.dir} (another cluster started from another --dir, or another server); stop it or choose another --base-port`,
        )
      }
    }
  }
  for (const port of toStart) {
    const dir = nodeDir(o, port)
    mkdirSync(dir, { recursive: true })
    const config = join(dir, 'redis.conf')
    writeFileSync(config, renderNodeConfig({ host: o.host, port, dir, persist: o.persist }))
    await spawnRedisServer(o.redisServer, config)
  }
  if (toStart.length > 0)
    o.onProgress(
      `started ${toStart.length} redis-server process(es) on ${o.host}:${o.ports[0]}-${o.ports.at(-1)}`,
    )

  for (const port of o.ports) {
    await waitFor(`redis-server on port ${port} to answer PING`, o.timeoutMs, () => ping(o.host, port)).catch(
      (error) => {
        throw new TiercacheError(
          'E_CLUSTER_TIMEOUT',
          `${(error as Error).message}; last log lines:\n${logTail(o, port)}`,
        )
      },
    )
  }

  const readInfos = () =>
    Promise.all(
      o.ports.map((port) => withNode(o.host, port, async (r) => parseInfo(String(await r.cluster('INFO'))))),
    )
  const isFormed = (infos: Array<Record<string, string>>) =>
    infos.every(
      (i) =>
        Number(i.cluster_known_nodes) === o.ports.length && Number(i.cluster_slots_assigned) === TOTAL_SLOTS,
    )
  const isBlank = (infos: Array<Record<string, string>>) =>
    infos.every((i) => Number(i.cluster_known_nodes) === 1 && Number(i.cluster_slots_assigned) === 0)
  let infos = await readInfos()
  // A cluster created a moment ago may still be gossiping: a node can know fewer nodes than it will
  // in a second. Give it a few seconds to settle before calling the state partial.
  const settleBy = Date.now() + Math.min(o.timeoutMs, 10_000)
  while (!isFormed(infos) && !isBlank(infos) && Date.now() < settleBy) {
    await new Promise((r) => setTimeout(r, 200))
    infos = await readInfos()
  }
  const formed = isFormed(infos)
  const blank = isBlank(infos)
  if (!formed && !blank) {
    throw new TiercacheError(
      'E_CLUSTER_INCONSISTENT',
      `the nodes in ${o.dir} hold a partial cluster state (an interrupted create, or a different --masters/--replicas); ` +
        'run `tiercache cluster stop --clean` with the same --dir and --base-port, then start again',
    )
  }
  if (blank) {
    o.onProgress(`creating the cluster: ${o.masters} masters, ${o.replicas} replica(s) each`)
    await runRedisCli(o, [
      '--cluster',
      'create',
      ...o.ports.map((p) => `${o.host}:${p}`),
      '--cluster-replicas',
      String(o.replicas),
      '--cluster-yes',
    ])
  }

  await waitFor(
    'cluster_state:ok on every node and every replica linked',
    o.timeoutMs,
    async () => (await readStatus(o)).healthy,
  )
  const status = await readStatus(o)
  return { ...status, alreadyRunning: toStart.length === 0 && formed }
}

/**
 * Stops exactly the processes this launcher started (found by their pid files).
 * @param options.clean also delete the nodes' directories (cluster state and data)
 * @returns the ports whose process was stopped
 */
export async function stopCluster(
  options: ClusterLauncherOptions & { clean?: boolean } = {},
): Promise<number[]> {
  const o = resolveOptions(options)
  const stopped: number[] = []
  await Promise.all(
    o.ports.map(async (port) => {
      const pid = livePid(pidFile(o, port))
      if (pid === undefined) return
      await stopProcess(pid)
      rmSync(pidFile(o, port), { force: true })
      stopped.push(port)
    }),
  )
  if (options.clean) for (const port of o.ports) rmSync(nodeDir(o, port), { recursive: true, force: true })
  return stopped.sort((a, b) => a - b)
}

/** Reports roles, slots and health of every node of the cluster described by `options`. */
export async function clusterStatus(options: ClusterLauncherOptions = {}): Promise<ClusterStatus> {
  return readStatus(resolveOptions(options))
}

async function readStatus(o: ResolvedOptions): Promise<ClusterStatus> {
  let topology: ClusterNodeLine[] = []
  const nodes = await Promise.all(
    o.ports.map(async (port): Promise<ClusterNodeStatus> => {
      const pid = livePid(pidFile(o, port))
      const empty = {
        port,
        pid,
        running: false,
        role: undefined,
        masterPort: undefined,
        slots: [],
        state: undefined,
        link: undefined,
      }
      if (pid === undefined) return empty
      try {
        return await withNode(o.host, port, async (r) => {
          const cluster = parseInfo(String(await r.cluster('INFO')))
          const replication = parseInfo(await r.info('replication'))
          const lines = parseClusterNodes(String(await r.cluster('NODES')))
          if (lines.length > topology.length) topology = lines
          const masterPort = replication.master_port ? Number(replication.master_port) : undefined
          const role: 'master' | 'replica' = replication.role === 'slave' ? 'replica' : 'master'
          return {
            ...empty,
            running: true,
            role,
            masterPort,
            state: cluster.cluster_state,
            link: role === 'replica' ? replication.master_link_status : undefined,
          }
        })
      } catch {
        return empty
      }
    }),
  )
  for (const node of nodes) node.slots = topology.find((line) => line.port === node.port)?.slots ?? []
  const served = nodes.reduce((sum, n) => sum + n.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0)
  const healthy =
    served === TOTAL_SLOTS &&
    nodes.every((n) => n.running && n.state === 'ok' && (n.role === 'master' || n.link === 'up')) &&
    nodes.filter((n) => n.role === 'master' && n.slots.length > 0).length === o.masters
  return { host: o.host, nodes, healthy, alreadyRunning: false }
}

/** Formats a status as the table `tiercache cluster status` prints. */
export function formatClusterStatus(status: ClusterStatus): string {
  const rows = status.nodes.map((n) => {
    const slots = formatSlots(n.slots)
    const role = !n.running
      ? 'down'
      : n.role === 'replica'
        ? `replica of ${n.masterPort} (link ${n.link})`
        : 'master'
    return `  ${status.host}:${n.port}  pid ${n.pid ?? '-'}  ${role}${slots ? `  slots ${slots}` : ''}  state ${n.state ?? '-'}`
  })
  return [`cluster ${status.healthy ? 'healthy' : 'NOT healthy'}:`, ...rows].join('\n')
}
