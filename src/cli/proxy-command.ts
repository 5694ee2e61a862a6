/**
 * `tiercache proxy`: parses flags (each with an environment-variable twin) and runs the proxy
 * until SIGTERM/SIGINT, then shuts down gracefully.
 */
import { readFileSync } from 'node:fs'
import pino from 'pino'
import { type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../option-names.js'
import { startProxy } from '../proxy/proxy.js'
import { checkTokenSpec, type TokenSpec } from '../proxy/tokens.js'
import type { ProxyMode } from '../proxy/upstream.js'
import { integerFlag, namedForCommandLine, parseFlags } from './flags.js'
import { isWorker, parseWorkers, runPrimary } from './proxy-workers.js'
import { clusterMetricsReader } from './worker-metrics.js'

/** Each flag, its environment twin and its help line. */
const FLAGS = {
  port: { env: 'TIERCACHE_PORT', help: 'port to listen on (default 8079)' },
  host: { env: 'TIERCACHE_HOST', help: 'interface to listen on (default 127.0.0.1)' },
  mode: { env: 'TIERCACHE_MODE', help: 'cluster | standalone | sentinel (default cluster)' },
  redis: {
    env: 'TIERCACHE_REDIS_URL',
    help: 'redis://[user:pass@]host:port[,host:port...]; rediss:// for TLS\n      (default redis://127.0.0.1:7000 in cluster mode, :6379 otherwise)',
  },
  'redis-ca': {
    env: 'TIERCACHE_REDIS_CA',
    help: "PEM file of the CA that signed Redis's TLS certificate (rediss://)",
  },
  sentinels: { env: 'TIERCACHE_SENTINELS', help: 'sentinel mode: host:port,host:port,...' },
  'master-name': { env: 'TIERCACHE_MASTER_NAME', help: 'sentinel mode: name of the monitored master' },
  token: { env: 'TIERCACHE_TOKEN', help: 'standard token: every command but the dangerous ones' },
  'read-only-token': {
    env: 'TIERCACHE_READ_ONLY_TOKEN',
    help: 'read-only token: read commands only, no SCAN/KEYS',
  },
  'admin-token': {
    env: 'TIERCACHE_ADMIN_TOKEN',
    help: 'admin token: also FLUSHALL, CONFIG, CLUSTER, SCRIPT FLUSH, ...',
  },
  'tokens-file': {
    env: 'TIERCACHE_TOKENS_FILE',
    help: 'JSON file: [{"token": "...", "kind": "standard|readonly|admin", "prefix": "app:"}]',
  },
  'max-body': { env: 'TIERCACHE_MAX_BODY', help: 'largest body in bytes, 413 past it (default 1048576)' },
  'max-commands': {
    env: 'TIERCACHE_MAX_COMMANDS',
    help: 'most commands per pipeline/transaction (default 1000)',
  },
  deadline: { env: 'TIERCACHE_DEADLINE', help: 'per-request deadline, 504 past it (default 10s)' },
  'max-blocking': {
    env: 'TIERCACHE_MAX_BLOCKING',
    help: 'blocking commands + subscriptions at once, 429 past it (default 64)',
  },
  'max-block': { env: 'TIERCACHE_MAX_BLOCK', help: 'longest block time a command may ask for (default 30s)' },
  drain: { env: 'TIERCACHE_DRAIN', help: 'on SIGTERM, how long in-flight requests may finish (default 10s)' },
  'min-replica-acks': {
    env: 'TIERCACHE_MIN_REPLICA_ACKS',
    help: 'WAIT mode: answer a write only once N replicas have it, else 503 NOREPLICAS (default 0: off)',
  },
  'replica-ack-timeout': {
    env: 'TIERCACHE_REPLICA_ACK_TIMEOUT',
    help: 'how long a write waits for its replicas in WAIT mode (default 1s)',
  },
  workers: {
    env: 'TIERCACHE_WORKERS',
    help: 'proxy processes sharing the port, or "auto" for one per core (default 1)',
  },
  'http-front': {
    env: 'TIERCACHE_HTTP_FRONT',
    help: 'raw: hot requests answered from the socket, the rest by node:http | node: all by node:http\n      (default raw; the answers are the same)',
  },
  'log-level': {
    env: 'TIERCACHE_LOG_LEVEL',
    help: 'fatal|error|warn|info|debug|trace|silent (default info)',
  },
} as const

type Flag = keyof typeof FLAGS

/** pino's levels, and `silent`. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * The flag that sets each of `startProxy`'s options, so that its errors name what the user typed
 * (`--max-body`, not `maxBodyBytes`). Options it already names by flag (`--redis`) are found by name.
 */
const FLAG_OF_OPTION: Record<string, Flag> = {
  maxBodyBytes: 'max-body',
  maxCommands: 'max-commands',
  deadline: 'deadline',
  maxBlocking: 'max-blocking',
  maxBlock: 'max-block',
  minReplicaAcks: 'min-replica-acks',
  replicaAckTimeout: 'replica-ack-timeout',
  sentinels: 'sentinels',
  masterName: 'master-name',
  tlsCa: 'redis-ca',
  mode: 'mode',
  port: 'port',
  host: 'host',
}

/** Help text of `tiercache proxy`. */
export const PROXY_HELP = `Usage: tiercache proxy [options]

An HTTP server that speaks the Upstash REST protocol (use @upstash/redis unchanged) and
forwards to a Redis Cluster, a standalone Redis or a Sentinel-managed Redis.

Options (each also read from the environment variable shown):
${Object.entries(FLAGS)
  .map(([flag, { env, help }]) => `  --${flag.padEnd(16)} ${env}\n      ${help}`)
  .join('\n')}
  -h, --help

At least one token is required. Endpoints: POST / , /pipeline, /multi-exec, path-style
/<command>/<args...>, POST /subscribe/<channel>, /psubscribe/<pattern>, /monitor (admin);
GET /healthz, /readyz, /metrics (Prometheus).
`

function readCa(path: string | undefined, option: string): string | undefined {
  if (!path) return undefined
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new InvalidOptionError(option, `cannot read ${path}: ${(error as Error).message}`)
  }
}

/** Reads a tokens file: an array of `{ token, kind?, prefix?, scripts? }`. */
export function readTokensFile(path: string): TokenSpec[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new InvalidOptionError('--tokens-file', `cannot read ${path}: ${(error as Error).message}`)
  }
  let parsed: unknown
  try {
    // A byte-order mark (what some Windows editors write first) is not JSON, but is no mistake either.
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    throw new InvalidOptionError('--tokens-file', `${path} is not JSON: ${(error as Error).message}`)
  }
  if (!Array.isArray(parsed)) {
    throw new InvalidOptionError(
      '--tokens-file',
      `${path} must hold a JSON array of {"token": "...", "kind": ..., "prefix": ...}`,
    )
  }
  parsed.forEach((spec, i) => {
    checkTokenSpec(spec, '--tokens-file', `${path} entry ${i}`)
  })
  return parsed as TokenSpec[]
}

/**
 * Runs `tiercache proxy ...` until a termination signal.
 * @returns -1 while the server runs (the process stays alive), or an exit code for --help
 */
export async function runProxyCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(PROXY_HELP)
    return 0
  }
  const given = values as Record<string, string | boolean | undefined>
  const get = (flag: Flag): string | undefined =>
    (given[flag] as string | undefined) ?? (env[FLAGS[flag].env] || undefined)
  // A bad value is named where it came from: its environment twin when only that set it, else the flag.
  const name = (flag: Flag): string =>
    given[flag] === undefined && env[FLAGS[flag].env] ? FLAGS[flag].env : `--${flag}`

  const logLevel = get('log-level') ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new InvalidOptionError(
      name('log-level'),
      `must be one of ${LOG_LEVELS.join(', ')}, got ${describeValue(logLevel)}`,
    )
  // Read now, not at the first SIGTERM: a bad value must stop the start, not the shutdown.
  const drainMs = parseDuration(get('drain') ?? '10s', name('drain'))

  const tokens: TokenSpec[] = []
  const token = get('token')
  if (token) tokens.push({ token, kind: 'standard' })
  const readOnly = get('read-only-token')
  if (readOnly) tokens.push({ token: readOnly, kind: 'readonly' })
  const admin = get('admin-token')
  if (admin) tokens.push({ token: admin, kind: 'admin' })
  const file = get('tokens-file')
  if (file) tokens.push(...readTokensFile(file))
  if (tokens.length === 0) {
    throw new InvalidOptionError(
      '--token',
      'at least one token is required (--token, --read-only-token, --admin-token or --tokens-file)',
    )
  }

  const workers = parseWorkers(get('workers'), name('workers'))
  if (workers > 1 && !isWorker()) {
    const primary = pino({ level: logLevel, name: 'tiercache-proxy' })
    primary.info({ workers, port: get('port') ?? '8079' }, 'starting proxy workers')
    return runPrimary(workers, (fields, msg) => primary.info(fields, msg))
  }

  const front = get('http-front') ?? 'raw'
  if (front !== 'raw' && front !== 'node')
    throw new InvalidOptionError(name('http-front'), `must be raw or node, got ${describeValue(front)}`)

  const running = await startProxy({
    rawHttp: front === 'raw',
    port: integerFlag(get('port'), name('port')) ?? 8079,
    host: get('host') ?? '127.0.0.1',
    mode: (get('mode') ?? 'cluster') as ProxyMode,
    redis: get('redis'),
    sentinels: get('sentinels')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    masterName: get('master-name'),
    tlsCa: readCa(get('redis-ca'), name('redis-ca')),
    tokens,
    maxBodyBytes: integerFlag(get('max-body'), name('max-body')),
    maxCommands: integerFlag(get('max-commands'), name('max-commands')),
    deadline: get('deadline') as Duration | undefined,
    maxBlocking: integerFlag(get('max-blocking'), name('max-blocking')),
    maxBlock: get('max-block') as Duration | undefined,
    minReplicaAcks: integerFlag(get('min-replica-acks'), name('min-replica-acks')),
    replicaAckTimeout: get('replica-ack-timeout') as Duration | undefined,
    logger: logLevel as 'info',
    // A scrape reaches one worker: it answers with the sum over all of them.
    ...(isWorker() ? { metricsReader: clusterMetricsReader } : {}),
  }).catch((error: unknown) => {
    throw namedForCommandLine(error, (option) => {
      const flag = FLAG_OF_OPTION[option] ?? option.replace(/^--/, '')
      return flag in FLAGS ? name(flag as Flag) : undefined
    })
  })
  const { logger } = running.proxy
  logger.info({ url: running.url, mode: running.proxy.upstream.mode }, 'tiercache proxy listening')
  let shuttingDown = false
  const shutdown = (signal: string) => {
    // A second signal (a process-group SIGTERM also relayed by the --workers primary) must not
    // kill the process mid-drain: keep the handler, ignore repeats.
    if (shuttingDown) return
    shuttingDown = true
    logger.info({ signal }, 'shutting down: draining in-flight requests')
    running.close(drainMs).then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  return -1
}
