/**
 * A TCP relay that can lose one response: the request reaches the proxy and is carried out, then
 * the connection dies before its answer gets back (a proxy restarted, a NAT or load balancer
 * dropping the connection). `@upstash/redis` retries a request whose fetch threw, so this is how
 * a command comes to run twice. Loopback only.
 */
import { connect, createServer, type Socket } from 'node:net'

/** A running relay. */
export interface LossyRelay {
  port: number
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
export async function startLossyRelay(targetPort: number): Promise<LossyRelay> {
  const sockets = new Set<Socket>()
  let marker: string | undefined
  let left = 0
  let lost = 0
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {})
    }
    // Set when a request carrying the marker went upstream: its answer is the one to lose.
    let doomed = false
    client.on('data', (chunk: Buffer) => {
      if (marker !== undefined && chunk.includes(marker)) {
        if (--left === 0) marker = undefined
        doomed = true
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (doomed) {
        lost++
        client.destroy()
        upstream.destroy()
        return
      }
      client.write(chunk)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    loseAnswerTo(text, times = 1) {
      marker = text
      left = times
    },
    get lost() {
      return lost
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
