/**
 * A TCP relay that adds a delay to every chunk in both directions (a slow network or a slow
 * Redis), adjustable while it runs. Loopback only.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

/** A running relay: `delayMs` can be changed at any time; `close()` ends it and its connections. */
export interface DelayRelay {
  port: number
  delayMs: number
  close(): Promise<void>
}

/** Starts a relay on a free loopback port in front of `targetPort`. */
export async function startDelayRelay(targetPort: number, delayMs = 0): Promise<DelayRelay> {
  const sockets = new Set<Socket>()
  const relay = { port: 0, delayMs, close: async () => {} }
  const pipe = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      const forward = () => {
        if (!to.destroyed) to.write(chunk)
      }
      if (relay.delayMs > 0) setTimeout(forward, relay.delayMs)
      else forward()
    })
    from.on('close', () => setTimeout(() => to.destroy(), relay.delayMs))
    from.on('error', () => to.destroy())
  }
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    }
    pipe(client, upstream)
    pipe(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  relay.port = (server.address() as { port: number }).port
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return relay
}
