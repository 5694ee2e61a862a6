/**
 * A MONITOR connection of its own, on a raw socket. ioredis's `monitor()` marks its connection as
 * monitoring only in a promise callback after MONITOR's `OK`: lines that arrive in the same chunk
 * as that `OK` (any busy server) are taken for replies to no command, and the connection emits
 * "Command queue state error" (uncaught, that would end the proxy). MONITOR's protocol is simple
 * enough to speak directly: after AUTH and MONITOR each answer `+OK`, every line is `+<event>`.
 */
import { connect as connectTcp, type Socket } from 'node:net'
import { type ConnectionOptions, connect as connectTls } from 'node:tls'

/** Where the node is and how to log in (from the ioredis connection's options). */
export interface MonitorTarget {
  host: string
  port: number
  username?: string | undefined
  password?: string | undefined
  tls?: ConnectionOptions | undefined
}

/** A running MONITOR. */
export interface MonitorConnection {
  /** Ends the connection. */
  close(): void
}

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

/**
 * Opens a connection, logs in, sends MONITOR, and resolves once Redis answered `OK`; every event
 * after that goes to `onLine` (Redis's own text: `<time> [<db> <client>] "CMD" "arg" ...`).
 * `onEnd` runs once when the connection ends for any reason after it was opened.
 * @throws the server's error (wrong password, MONITOR refused) or the socket's
 */
export function openMonitor(
  target: MonitorTarget,
  onLine: (line: string) => void,
  onEnd: () => void,
): Promise<MonitorConnection> {
  return new Promise((resolve, reject) => {
    const socket: Socket = target.tls
      ? connectTls({ host: target.host, port: target.port, ...target.tls })
      : connectTcp(target.port, target.host)
    let okToCome = target.password ? 2 : 1 // AUTH's OK, then MONITOR's
    let settled = false
    let buffer = ''
    const fail = (error: Error) => {
      socket.destroy()
      if (!settled) {
        settled = true
        reject(error)
      }
    }
    socket.setNoDelay(true)
    socket.setEncoding('utf8')
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      const auth = target.password
        ? target.username
          ? command('AUTH', target.username, target.password)
          : command('AUTH', target.password)
        : ''
      socket.write(`${auth}${command('MONITOR')}`)
    })
    socket.on('data', (chunk: string) => {
      buffer += chunk
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (line.startsWith('-')) return fail(new Error(line.slice(1)))
        if (!line.startsWith('+')) continue
        if (okToCome > 0) {
          okToCome--
          if (okToCome === 0 && !settled) {
            settled = true
            resolve({ close: () => socket.destroy() })
          }
          continue
        }
        onLine(line.slice(1))
      }
    })
    socket.on('error', (error) => fail(error))
    socket.on('close', () => {
      if (settled) onEnd()
      else fail(new Error(`the connection to ${target.host}:${target.port} closed before MONITOR began`))
    })
  })
}
