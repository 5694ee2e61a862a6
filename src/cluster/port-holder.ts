/**
 * Which process holds a TCP port, for the launcher's "port in use" error: "stop it" is only
 * useful when it says what "it" is (a node of another cluster, left running; another server).
 *
 * Read from Linux's /proc (the socket's inode in /proc/net/tcp*, then the process whose fd links to
 * it) rather than by running `lsof`, `ss` or `fuser`, which a slim image may not have; the npm
 * packages that answer this (pid-port, find-process) run those same commands. Elsewhere, or where
 * the owner's fds cannot be read (another user's process without root), it answers undefined.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/**
 * Describes the process bound to TCP `port` on this machine, as
 * `pid 1234 (redis-server 127.0.0.1:7000 [cluster], in /tmp/c/7000)`: its command line and its
 * working directory (a redis-server's is its `dir`). Undefined when it cannot be told.
 */
export function portHolder(port: number): string | undefined {
  const inodes = socketInodes(port)
  if (inodes.size === 0) return undefined
  for (const pid of safe(() => readdirSync('/proc'), [])) {
    if (!/^\d+$/.test(pid)) continue
    const fds = safe(() => readdirSync(`/proc/${pid}/fd`), [])
    if (!fds.some((fd) => inodes.has(safe(() => readlinkSync(`/proc/${pid}/fd/${fd}`), '')))) continue
    const command = safe(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8'), '')
      .split('\0')
      .filter(Boolean)
      .join(' ')
    const cwd = safe(() => readlinkSync(`/proc/${pid}/cwd`), '')
    return `pid ${pid} (${command || 'unknown command'}${cwd ? `, in ${cwd}` : ''})`
  }
  return undefined
}

/** The `socket:[inode]` links of the IPv4 and IPv6 sockets whose local port is `port`. */
function socketInodes(port: number): Set<string> {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    // Lines: `sl local_address rem_address st ... inode`, the address as hex `IP:PORT`.
    for (const line of safe(() => readFileSync(table, 'utf8'), '')
      .split('\n')
      .slice(1)) {
      const fields = line.trim().split(/\s+/)
      const inode = fields[9]
      if (fields[1]?.endsWith(`:${hexPort}`) && inode && inode !== '0') inodes.add(`socket:[${inode}]`)
    }
  }
  return inodes
}

/** `read()`, or `fallback` when it throws (a process gone meanwhile, a file not there, no access). */
function safe<T>(read: () => T, fallback: T): T {
  try {
    return read()
  } catch {
    return fallback
  }
}
