/**
 * The tier-2 entry: one Redis key holding the value (or a null marker), its fresh-until time, the
 * last load's duration (for early refresh), a fence number (for fenced fills) and tags; encoded
 * as text so any Redis-over-HTTP client stores it as is.
 *
 * Values travel as JSON, with one extension: a `Date` comes back as a `Date`. What JSON cannot
 * carry is refused with `UnserializableValueError` instead of being silently changed: BigInt,
 * Map, Set, functions, symbols, non-finite numbers, invalid Dates. Class instances come back as
 * plain objects, and `undefined` object properties are dropped, as with JSON itself.
 */
import { UnserializableValueError } from '../errors.js'

/** The decoded entry. */
export interface Envelope<T = unknown> {
  /** The value; absent for a null marker. */
  v?: T
  /** 1 when the loader found nothing (a null marker). */
  n?: 1
  /** Fresh until this wall-clock time (ms since the epoch). */
  f: number
  /** How long the last load took (ms). */
  d: number
  /** Fence number the entry was written with. */
  c: number
  /** Tags the entry was written with, and their versions then (an older version: invalidated). */
  t?: Record<string, number>
  /** 1 for a hot key: it never expires from tier 2 and is served stale while it is refreshed. */
  h?: 1
}

// A prefix no JSON text starts with: Redis-over-HTTP clients that JSON.parse every reply (as
// @upstash/redis does by default) then hand back the stored text unchanged.
const PREFIX = 'tc1:'
const DATE = '$tiercache:date'

function replacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before toJSON ran: how a Date is recognized.
  const raw = (this as Record<string, unknown>)[key]
  if (raw instanceof Date) {
    if (Number.isNaN(raw.getTime())) throw new TypeError('an invalid Date')
    return { [DATE]: raw.toISOString() }
  }
  switch (typeof raw) {
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new TypeError(`a ${typeof raw}`)
    case 'number':
      if (!Number.isFinite(raw)) throw new TypeError(`the number ${raw}`)
      return value
  }
  if (raw instanceof Map || raw instanceof Set) throw new TypeError(`a ${raw.constructor.name}`)
  // An object of the value's own holding the Date marker's key is escaped as its entries under
  // that key (a Date's is a string), or it would come back a Date. `undefined` is dropped, as JSON
  // drops it from an object; an array's named property too.
  if (Object.hasOwn(Object(value), DATE) && !Array.isArray(value))
    return { [DATE]: Object.entries(value as object).filter((entry) => entry[1] !== undefined) }
  return value
}

function reviver(_key: string, value: unknown): unknown {
  if (Object.hasOwn(Object(value), DATE)) {
    const marked = (value as Record<string, string | [string, unknown][]>)[DATE]!
    return typeof marked === 'string' ? new Date(marked) : Object.fromEntries(marked)
  }
  return value
}

/**
 * Encodes an entry as text.
 * @throws {UnserializableValueError} when the value cannot round-trip
 */
export function encodeEnvelope(key: string, envelope: Envelope): string {
  try {
    return PREFIX + JSON.stringify(envelope, replacer)
  } catch (error) {
    const what = error instanceof TypeError ? error.message : String(error)
    throw new UnserializableValueError(key, `it contains ${what}, which JSON cannot carry`, { cause: error })
  }
}

/** Decodes an entry; undefined when the text is not an entry this version wrote. */
export function decodeEnvelope<T>(text: string | null | undefined): Envelope<T> | undefined {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) return undefined
  try {
    const envelope = JSON.parse(text.slice(PREFIX.length), reviver) as Envelope<T>
    return typeof envelope === 'object' && envelope !== null && typeof envelope.f === 'number'
      ? envelope
      : undefined
  } catch {
    return undefined
  }
}

/** UTF-8 length of a string without Buffer or TextEncoder (the L1 size of an entry). */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdfff)
      bytes += 2 // each half of a surrogate pair: 4 in all
    else bytes += 3
  }
  return bytes
}
