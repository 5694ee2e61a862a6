/**
 * A TCP relay for fault tests, loopback only. It can delay every chunk in both directions (a slow
 * network or a slow Redis), adjustable while it runs, and it can lose an answer: the request
 * reaches the proxy and is carried out, then the connection dies before its answer gets back (a
 * proxy restarted, a load balancer dropping a connection). `@upstash/redis` sends a request again
 * when its fetch throws, so this is how a command comes to run twice.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

/** A running relay: `delayMs` can be changed at any time; `close()` ends it and its connections. */
export interface Relay {
  port: number
  delayMs: number
  /**
   * Loses the answers to the next `times` requests whose bytes hold `marker` (a script argument, a
   * key): each request is forwarded, and its connection destroyed when its answer arrives. Note
   * that `@upstash/redis` tries twice even with `retry: false` (its loop runs `attempts` + 1 times).
   */
  loseAnswerTo(marker: string, times?: number): void
  /** How many answers were lost so far. */
  readonly lost: number
  close(): Promise<void>
}

/** Starts a relay on a free loopback port in front of `targetPort`. */
export async function startRelay(targetPort: number, delayMs = 0): Promise<Relay> {
  const sockets = new Set<Socket>()
  let marker: string | undefined
  let toLose = 0
  let lost = 0
  const relay: Relay = {
    port: 0,
    delayMs,
    loseAnswerTo(text, times = 1) {
      marker = text
      toLose = times
    },
    get lost() {
      return lost
    },
    close: async () => {},
  }
  /** Forwards `from` to `to`, delayed; `drop` says whether a chunk ends both connections instead. */
  const pipe = (from: Socket, to: Socket, drop: (chunk: Buffer) => boolean) => {
    from.on('data', (chunk: Buffer) => {
      if (drop(chunk)) {
        lost++
        from.destroy()
        to.destroy()
        return
      }
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
    // Set when a request carrying the marker went upstream: its answer is the one to lose.
    let doomed = false
    pipe(client, upstream, (chunk) => {
      if (marker !== undefined && chunk.includes(marker)) {
        if (--toLose === 0) marker = undefined
        doomed = true
      }
      return false
    })
    pipe(upstream, client, () => doomed)
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
