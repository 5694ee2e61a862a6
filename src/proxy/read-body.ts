/**
 * Reads a request body as text, refusing it (413) past a size limit without buffering more than
 * the limit. On Node it reads the IncomingMessage directly: touching the Fetch `Request` body
 * makes undici build a full Request (abort signal, stream, header validation), which measured
 * as the largest per-request cost of the proxy.
 */
import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import { ProxyHttpError } from './http-error.js'

function tooLarge(maxBytes: number): ProxyHttpError {
  return new ProxyHttpError(413, `ERR the body is larger than ${maxBytes} bytes`)
}

/**
 * A body the proxy would read as something it is not. node:http undoes `chunked` framing and
 * nothing else: a `Transfer-Encoding: gzip, chunked` or `Content-Encoding: gzip` body reached the
 * JSON parser compressed, and came back as a 400 quoting binary. RFC 9112 §6.1 answers a transfer
 * coding the server does not implement with 501, RFC 9110 §15.5.16 a content coding with 415.
 * @returns the refusal, or undefined when the body is plain (or only chunked)
 */
export function unsupportedCoding(
  transferEncoding: string | undefined,
  contentEncoding: string | undefined,
): ProxyHttpError | undefined {
  // Most requests carry neither header: no arrays for them on the request path.
  if (transferEncoding === undefined && contentEncoding === undefined) return undefined
  if (codings(transferEncoding).some((coding) => coding !== 'chunked'))
    return new ProxyHttpError(
      501,
      `ERR Transfer-Encoding ${JSON.stringify(transferEncoding)} is not supported: send the body plain or chunked`,
    )
  if (codings(contentEncoding).some((coding) => coding !== 'identity'))
    return new ProxyHttpError(
      415,
      `ERR Content-Encoding ${JSON.stringify(contentEncoding)} is not supported: send the body uncompressed`,
    )
  return undefined
}

/** A coding list header's entries, lower-cased; empty entries (`gzip,,` or an empty value) dropped. */
function codings(header: string | undefined): string[] {
  if (header === undefined) return []
  return header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '')
}

/**
 * @returns the body as UTF-8 text ('' when there is none)
 * @throws {ProxyHttpError} 413 when the body is larger than `maxBytes`; 501 or 415 for a coding
 *   it does not undo (`unsupportedCoding`)
 */
export async function readBody(c: Context, maxBytes: number): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming && typeof incoming.on === 'function' && !incoming.readableEnded) {
    return readIncomingBody(incoming, maxBytes)
  }
  const refusal = unsupportedCoding(c.req.header('transfer-encoding'), c.req.header('content-encoding'))
  if (refusal) throw refusal
  const declared = c.req.header('content-length')
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes)
  const text = await c.req.text()
  if (Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes)
  return text
}

/**
 * Reads a Node request's body as UTF-8 text. A declared length past the limit is refused before
 * reading; a chunked body is counted as it arrives and refused at the limit (the rest is
 * discarded: the 413 closes the connection). A client that goes away mid-body rejects it.
 * @throws {ProxyHttpError} 413 when the body is larger than `maxBytes`; 501 or 415 for a coding
 *   it does not undo (`unsupportedCoding`)
 */
export function readIncomingBody(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    readIncomingBodyThen(incoming, maxBytes, (error, text) =>
      error === undefined ? resolve(text as string) : reject(error),
    ),
  )
}

/**
 * `readIncomingBody` with a callback, called exactly once: `(undefined, text)` or `(error)`.
 * The node:http fast path reads bodies this way: a promise per request is garbage it can skip.
 */
export function readIncomingBodyThen(
  incoming: IncomingMessage,
  maxBytes: number,
  done: (error: Error | undefined, text?: string) => void,
): void {
  const { headers } = incoming
  const refusal = unsupportedCoding(headers['transfer-encoding'], headers['content-encoding'])
  if (refusal) {
    incoming.resume() // discarded; its framing is known, so the connection can carry the next
    done(refusal)
    return
  }
  const declared = headers['content-length']
  if (declared !== undefined && Number(declared) > maxBytes) {
    incoming.resume()
    done(tooLarge(maxBytes))
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  let settled = false
  const fail = (error: Error) => {
    if (settled) return
    settled = true
    done(error)
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size <= maxBytes) {
      chunks.push(chunk)
      return
    }
    incoming.off('data', onData)
    incoming.resume() // discard the rest; the 413 closes the connection
    fail(tooLarge(maxBytes))
  }
  // `on`, not `once`: each of these fires at most once per request anyway, and `once` wraps and
  // later removes every listener (measured: 0.3 µs of a single command's proxy CPU).
  incoming.on('data', onData)
  incoming.on('end', () => {
    if (settled) return
    settled = true
    done(
      undefined,
      chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'),
    )
  })
  incoming.on('error', fail)
  incoming.on('close', () => {
    if (!incoming.readableEnded) fail(new Error('the client went away before its body was read'))
  })
}
