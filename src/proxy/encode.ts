/**
 * Encodes Redis replies for the Upstash REST protocol. With `Upstash-Encoding: base64` every
 * string is base64 of its bytes, except a reply that is literally `OK` (the client passes `OK`
 * through and base64-decodes everything else, so a bulk `OK` and a status `OK` read the same).
 * Integers stay numbers, nil stays null, arrays are encoded element by element.
 */

const OK = Buffer.from('OK')

/**
 * Encodes one reply (as ioredis returns it in buffer mode).
 * @param base64 whether the request asked for `Upstash-Encoding: base64`
 */
export function encodeReply(value: unknown, base64: boolean): unknown {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) {
    if (!base64) return value.toString('utf8') // invalid UTF-8 bytes become U+FFFD
    return value.equals(OK) ? 'OK' : value.toString('base64')
  }
  if (typeof value === 'string') {
    if (!base64 || value === 'OK') return value
    return Buffer.from(value, 'utf8').toString('base64')
  }
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map((item) => encodeReply(item, base64))
  // An error nested in an array reply (e.g. inside EXEC's results) keeps its text, never encoded.
  if (value instanceof Error) return value.message
  return value
}
