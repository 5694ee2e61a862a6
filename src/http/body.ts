/**
 * Bodies: read up to a limit without buffering past it, and the encodings a stored body needs
 * (UTF-8, base64, hashes), with Web APIs only (`atob`/`btoa`, `TextDecoder`, Web Crypto) so they
 * run on Workers and Vercel Edge as on Node.
 */

/**
 * Reads a body up to `limit` bytes. Past it, the response is handed back whole: what was read
 * first, then the rest of the stream, so a large body is never buffered. An event stream
 * (`text/event-stream`) is handed back unread.
 */
export async function readUpTo(
  response: Response,
  limit: number,
): Promise<{ bytes: Uint8Array } | { response: Response }> {
  if (!response.body) return { bytes: new Uint8Array(0) }
  // No Content-Length reads as 0 (Number(null)): the body is read and counted.
  const declared = Number(response.headers.get('content-length'))
  // An event stream is live and may never end: read to its end first, it would reach nobody.
  if (declared > limit || /event-stream/i.test(response.headers.get('content-type') as string))
    return { response }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.byteLength
    if (total > limit) {
      const rest = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk)
        },
        async pull(controller) {
          const next = await reader.read()
          if (next.done) controller.close()
          else controller.enqueue(next.value)
        },
        cancel(reason) {
          return reader.cancel(reason)
        },
      })
      return {
        response: new Response(rest, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        }),
      }
    }
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { bytes }
}

/** The bytes as UTF-8 text, or undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}

/** Base64 of bytes, in chunks (spreading a whole large body into one call overflows the stack). */
export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

/** Bytes from base64. */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/**
 * SHA-1 of bytes, in unpadded base64url (27 characters): a body's ETag. Shorter than hex (40):
 * the tag rides on every cached answer, and its bytes were measured in the Hono bench.
 */
export async function sha1Base64Url(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-1', bytes as BufferSource))
  return toBase64(digest).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** SHA-256 of text, in hex (the key of a request whose plain key is too long). */
export async function sha256Hex(text: string): Promise<string> {
  return hex(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}

/** Bytes as lower-case hex. */
function hex(digest: ArrayBuffer): string {
  let out = ''
  for (const byte of new Uint8Array(digest)) out += byte.toString(16).padStart(2, '0')
  return out
}
