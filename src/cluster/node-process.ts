/**
 * Starting and stopping one redis-server process, found again later through its pid file.
 * `stop` must end exactly the processes `start` launched, never a recycled pid.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { TiercacheError } from '../errors.js'

/**
 * Reads a pid file and says whether that process is still a live redis-server.
 * A pid file whose process is gone (a crash, a reboot) is stale: it is removed.
 * @returns the pid when the process is alive, otherwise undefined
 */
export function livePid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10)
  if (Number.isInteger(pid) && pid > 0 && isRedisProcess(pid)) return pid
  rmSync(pidFile, { force: true })
  return undefined
}

function isRedisProcess(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // On Linux, make sure the pid was not recycled by an unrelated process after a crash.
  const cmdline = `/proc/${pid}/cmdline`
  if (existsSync(cmdline)) {
    try {
      return readFileSync(cmdline, 'utf8').includes('redis-server')
    } catch {
      return false
    }
  }
  return true
}

/**
 * Launches `redis-server <configFile>` (the config daemonizes and writes the pid file).
 * @throws {TiercacheError} E_REDIS_SPAWN when the binary is missing or exits with an error
 */
export async function spawnRedisServer(binary: string, configFile: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(binary, [configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', (error) => reject(spawnError(binary, error)))
    child.on('exit', (code) => {
      if (code === 0) resolve()
      else
        reject(
          new TiercacheError(
            'E_REDIS_SPAWN',
            `${binary} ${configFile} exited with ${code}: ${stderr.trim()}`,
          ),
        )
    })
  })
}

/**
 * Ends a process: SIGTERM, then SIGKILL if it is still alive after `graceMs`.
 * @returns once the process is gone
 */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (!alive()) return
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (alive() && Date.now() < deadline) await sleep(50)
  if (alive()) {
    process.kill(pid, 'SIGKILL')
    while (alive()) await sleep(20)
  }
}

/** Resolves after `ms` milliseconds (the launcher polls real processes, so it really waits). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** How to get the Redis binaries, said where one is missing. */
const INSTALL_REDIS =
  'install Redis: `sudo apt-get update && sudo apt-get install -y redis-server redis-tools` (Debian/Ubuntu) or `brew install redis` (macOS)'

/**
 * The error for a Redis binary that could not be run; a missing one says how to install it.
 */
export function spawnError(binary: string, error: NodeJS.ErrnoException): TiercacheError {
  const missing = error.code === 'ENOENT' ? ` (not found: ${INSTALL_REDIS})` : ''
  return new TiercacheError('E_REDIS_SPAWN', `cannot run ${binary}: ${error.message}${missing}`, {
    cause: error,
  })
}
