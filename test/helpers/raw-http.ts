/**
 * Raw HTTP/1.1 over a socket, for what fetch cannot send (malformed heads, odd targets) or
 * hides (the exact bytes of an answer).
 */
import { connect } from 'node:net'

/** Sends `bytes` on a new loopback connection, half-closes it, and resolves with everything received until the server closes. */
export function exchangeRaw(port: number, bytes: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks)))
    socket.end(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
  })
}
