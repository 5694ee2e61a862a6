/**
 * Raw RESP2 bodies, for requests with `Upstash-Response-Format: resp2`.
 */
import type { Outcome } from './executor.js'

/** Serializes one outcome as RESP2 bytes. */
export function toResp2(outcome: Outcome): Buffer {
  const parts: Buffer[] = []
  if (outcome.ok) write(outcome.value, parts)
  else parts.push(Buffer.from(`-${outcome.error.message.replace(/\r?\n/g, ' ')}\r\n`))
  return Buffer.concat(parts)
}

function write(value: unknown, parts: Buffer[]): void {
  if (value === null || value === undefined) parts.push(Buffer.from('$-1\r\n'))
  else if (typeof value === 'number') parts.push(Buffer.from(`:${value}\r\n`))
  else if (Buffer.isBuffer(value) || typeof value === 'string') {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value)
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from(`*${value.length}\r\n`))
    for (const item of value) write(item, parts)
  } else if (value instanceof Error) parts.push(Buffer.from(`-${value.message}\r\n`))
  else parts.push(Buffer.from(`+${String(value)}\r\n`))
}
