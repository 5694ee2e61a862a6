/**
 * `tiercache proxy --workers N`: N proxy processes sharing one port (node:cluster), one per core.
 * The proxy keeps no state of its own, so the copies need no coordination; the primary forks
 * them, replaces one that dies, passes SIGTERM/SIGINT on so each drains gracefully, and sums the
 * workers' metrics for whichever worker a `/metrics` scrape reaches (`worker-metrics.ts`).
 */
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../option-names.js'
import { serveClusterMetrics } from './worker-metrics.js'

/** Workers per available core, at most: past one per core they add memory (about 60 MB each), not throughput. */
const MAX_WORKERS_PER_CORE = 4

/**
 * Reads `--workers`: a positive integer up to 4 per available core, or `auto` for one per core.
 * Without the bound a slip (`--workers 1000`) forked a thousand proxies and their Redis connections.
 * @param option the flag or environment variable that set it, for the error
 * @throws {InvalidOptionError} naming `option`
 */
export function parseWorkers(
  value: string | undefined,
  option = '--workers',
  cores = availableParallelism(),
): number {
  if (value === undefined || value === '') return 1
  if (value === 'auto') return cores
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidOptionError(option, `must be a positive integer or "auto", got ${describeValue(value)}`)
  const most = MAX_WORKERS_PER_CORE * cores
  if (n > most)
    throw new InvalidOptionError(
      option,
      `must be at most ${most} (${MAX_WORKERS_PER_CORE} per core, ${cores} cores here; "auto" is one per core), got ${n}`,
    )
  return n
}

/** Whether this process is a forked proxy worker (it then runs the proxy itself). */
export function isWorker(): boolean {
  return cluster.isWorker
}

/**
 * Runs the primary: forks `count` workers (each re-runs this command line), restarts a worker
 * that exits unexpectedly, and on SIGTERM/SIGINT tells every worker to drain, then exits. A
 * worker that exits before it ever listened could not start (a bad option, a port in use): the
 * others would fail alike, so the primary stops them and exits 1 rather than restart it forever
 * or stay up serving nothing.
 * @param log one line per event, for the primary's structured log
 * @returns -1: the process keeps running until the workers are gone
 */
export function runPrimary(
  count: number,
  log: (fields: Record<string, unknown>, msg: string) => void,
): number {
  let stopping = false
  let failed = false
  const listened = new Set<number>()
  cluster.on('listening', (worker) => listened.add(worker.id))
  // Workers still running, counted here: node:cluster drops a worker from `cluster.workers` only
  // once it has both exited and disconnected, and the last 'exit' can come before its
  // 'disconnect' (a CI run saw the primary end without its last log line).
  const running = new Set<number>()
  serveClusterMetrics()
  const fork = () => running.add(cluster.fork().id)
  for (let i = 0; i < count; i++) fork()
  cluster.on('exit', (worker, code, signal) => {
    running.delete(worker.id)
    if (!stopping && !listened.has(worker.id)) {
      failed = true
      log(
        { workerPid: worker.process.pid, code, signal },
        'a worker could not start (its error is above); stopping',
      )
      stop('SIGTERM')
    }
    if (stopping) {
      if (running.size === 0) {
        log({}, 'all workers stopped')
        process.exit(failed ? 1 : 0)
      }
      return
    }
    // A crash must not shrink the pool: replace the worker (its in-flight requests are lost).
    log({ workerPid: worker.process.pid, code, signal }, 'worker exited unexpectedly; starting a new one')
    fork()
  })
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log({ signal, workers: count }, 'stopping workers')
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  return -1
}
