/**
 * Whether a TCP port can be bound. A node whose port is taken by another process would exit at
 * once (its error only in its log) while `start` waited on whatever answers there instead.
 */
import { createServer } from 'node:net'

/** Resolves true when `host:port` is free to bind now. */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}
