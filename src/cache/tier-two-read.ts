/**
 * Serving what tier 2 returned: fresh, stale inside grace (or a hot key), or nothing; with XFetch
 * early refresh on fresh reads. And the fresh time a write gets.
 */
import { type Duration, parseDuration } from '../duration.js'
import type { CacheCore } from './core.js'
import { decodeEnvelope, type Envelope, utf8Length } from './envelope.js'
import type { ResolvedOptions } from './options.js'

/** This caller holds the key's rebuild lock: the fence it read and its token. */
export type Fenced = { fence: number; token: string }

/** Reloads a key (`fenced`: this caller holds its rebuild lock already). */
export type Reload = (fenced?: Fenced) => Promise<unknown>

/**
 * Serves a tier-2 entry if it is fresh or inside grace (refreshing it when given `reload`).
 * @returns the value (null for a null marker), or undefined when there is nothing to serve
 */
export function serveFromTierTwo<T>(
  core: CacheCore,
  full: string,
  text: string | undefined,
  startGen: number,
  reload?: Reload,
  fenced?: Fenced,
): { value: T | null } | undefined {
  const envelope: Envelope<T> | undefined = decodeEnvelope<T>(text)
  if (!envelope || text === undefined) return undefined
  // Written under an older version of one of its tags (invalidated since): not served, not even
  // stale. Callers `learn` the entry's tags first (`tagsOfText`), so unknown means unreachable.
  if (envelope.t && core.sync.current(envelope.t) !== true) return undefined
  const { now: clock, graceMs, xfetchBeta, random } = core.options
  const now = clock()
  const nullMarker = envelope.n === 1
  const value = nullMarker ? null : (envelope.v as T)
  if (envelope.f > now) {
    core.counters.l2Hits++
    if (nullMarker) core.counters.nullHits++
    core.emit(() => ({ type: 'hit', key: full, tier: 'l2', nullMarker }))
    core.fillL1(full, value, nullMarker, utf8Length(text), envelope.f - now, startGen, envelope.t)
    // XFetch: the closer to expiry and the slower the last load (δ), the likelier an early
    // refresh, so a hot key is rebuilt before it expires instead of by a crowd after. Decided
    // here, on tier-2 reads: an L1 copy lives at most l1.ttl, so every instance reads tier 2
    // that often, and the L1 hit path stays free of it.
    if (
      reload &&
      xfetchBeta > 0 &&
      envelope.d > 0 &&
      now - envelope.d * xfetchBeta * Math.log(random()) >= envelope.f
    ) {
      core.counters.earlyRefreshes++
      core.emit(() => ({ type: 'earlyRefresh', key: full }))
      core.background(core.flights.run(`refresh:${full}`, () => reload()))
    }
    return { value }
  }
  // Inside grace (forever for a hot key): answer with the stale value now and refresh in the
  // background; the refresh takes the rebuild lock first when this caller does not hold it, so
  // one instance of the fleet refreshes and the others just serve.
  if (envelope.h === 1 || envelope.f + graceMs > now) {
    core.counters.staleServed++
    core.emit(() => ({ type: 'stale', key: full }))
    if (reload) core.background(core.flights.run(`refresh:${full}`, () => reload(fenced)))
    return { value }
  }
  return undefined
}

/** The fresh time (before jitter) of a written value or null marker (options checked: `checkWriteOptions`). */
export function freshTime(
  options: ResolvedOptions,
  found: boolean,
  write?: { ttl?: Duration; refresh?: Duration; nullTtl?: Duration },
): number {
  // A hot key: its logical expiry is the refresh interval; it never leaves tier 2.
  if (found && write?.ttl === Infinity) return parseDuration(write.refresh, 'refresh')
  if (found) return write?.ttl === undefined ? options.ttlMs : parseDuration(write.ttl, 'ttl')
  return write?.nullTtl === undefined ? options.nullTtlMs : parseDuration(write.nullTtl, 'nullTtl')
}

/**
 * The tags of an entry's text, without decoding the value when it has none (the JSON key `"t":{`
 * is looked for first; a value that merely contains it is decoded and answers its real tags).
 */
export function tagsOfText(text: string | undefined): Record<string, number> | undefined {
  if (text === undefined || !text.includes('"t":{')) return undefined
  return decodeEnvelope(text)?.t
}
