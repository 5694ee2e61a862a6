/**
 * Server-sent events for `/subscribe/<channel>`, `/psubscribe/<pattern>` and `/monitor`: each
 * stream holds one dedicated Redis connection, released when the client disconnects (closing
 * the connection is how the Upstash client unsubscribes).
 */
import type { Context } from 'hono'
import { stream } from 'hono/streaming'
import type { Redis } from 'ioredis'
import type { BlockingRunner } from './blocking.js'
import { type MonitorConnection, openMonitor } from './monitor-connection.js'
import type { Upstream } from './upstream.js'

/** What to stream. */
export type StreamKind = 'subscribe' | 'psubscribe' | 'monitor'

/**
 * Answers a request with an SSE stream of Redis messages. Lines are `data: <payload>\n\n` with
 * payloads `subscribe,<channel>,<count>`, `message,<channel>,<message>`,
 * `pmessage,<pattern>,<channel>,<message>` (raw text, never base64), or a MONITOR line.
 * @param signal aborts the stream (client gone, or the proxy shutting down)
 * @param onEnd called once the stream has ended and its connections are closed
 */
export function streamEvents(
  c: Context,
  upstream: Upstream,
  blocking: BlockingRunner,
  kind: StreamKind,
  target: string,
  signal: AbortSignal,
  onEnd: () => void,
): Response {
  // Reserve before answering: past the cap the client gets a 429 JSON error, not an empty stream.
  const release = blocking.reserve()
  c.header('Content-Type', 'text/event-stream')
  c.header('Cache-Control', 'no-cache')
  c.header('Connection', 'keep-alive')
  return stream(c, async (s) => {
    const connections: Redis[] = []
    const monitors: MonitorConnection[] = []
    const closed = new Promise<void>((resolve) => {
      s.onAbort(resolve)
      if (signal.aborted) resolve()
      signal.addEventListener('abort', () => resolve(), { once: true })
    })
    const send = (payload: string) => {
      if (!s.aborted && !s.closed) void s.write(`data: ${payload}\n\n`).catch(() => {})
    }
    try {
      if (kind === 'monitor') {
        // In a cluster each master sees only its own commands: watch them all. `OK` comes first,
        // as from Redis: lines from masters already watched wait until every master is.
        let pending: string[] | undefined = []
        const onLine = (line: string) => {
          if (pending) pending.push(line)
          else send(line)
        }
        for (const master of upstream.masters()) {
          const o = master.options
          const monitor = await openMonitor(
            {
              host: o.host ?? '127.0.0.1',
              port: o.port ?? 6379,
              username: o.username,
              password: o.password,
              tls: o.tls,
            },
            onLine,
            () => void s.close(), // a node went away: end the stream, the client may reconnect
          )
          monitors.push(monitor)
        }
        send('OK')
        for (const line of pending) send(line)
        pending = undefined
      } else {
        // PUBLISH reaches every node of a cluster, so one connection to any node hears it all.
        const connection = upstream.dedicated()
        connections.push(connection)
        connection.on('message', (channel: string, message: string) => send(`message,${channel},${message}`))
        connection.on('pmessage', (pattern: string, channel: string, message: string) =>
          send(`pmessage,${pattern},${channel},${message}`),
        )
        // Redis ended the connection (node down): end the stream so the client can resubscribe.
        connection.on('end', () => void s.close())
        const count =
          kind === 'subscribe' ? await connection.subscribe(target) : await connection.psubscribe(target)
        send(`${kind},${target},${count}`)
      }
      await closed
    } catch (error) {
      send(`error,${(error as Error).message}`)
    } finally {
      for (const connection of connections) connection.disconnect()
      for (const monitor of monitors) monitor.close()
      release()
      onEnd()
    }
  })
}
