/**
 * The per-call options of loads and writes (`WriteOptions`), checked before anything is read,
 * loaded or written: a mistake there would otherwise surface late (after the loader ran) or
 * not at all (an unknown name, a `ttl: 0` that writes an entry stale at once).
 */
import { InvalidOptionError } from '../errors.js'
import { checkOptionNames } from '../option-names.js'
import type { WriteOptions } from './api.js'
import { positiveDuration } from './options.js'
import { checkTags } from './tags.js'

/** The names of `WriteOptions`. */
const WRITE_OPTIONS: readonly string[] = ['ttl', 'refresh', 'nullTtl', 'tags', 'guard']

/**
 * Checks per-call options: known names; durations above 0 (`ttl: Infinity`, a hot key, with a
 * `refresh`); tags an array of non-empty strings; a guard with `mightContain`.
 * @throws {InvalidOptionError} naming the first bad option
 */
export function checkWriteOptions(options: WriteOptions): void {
  checkOptionNames(options, WRITE_OPTIONS)
  const { ttl, refresh, nullTtl, tags, guard } = options
  if (ttl === Infinity) {
    if (refresh === undefined)
      throw new InvalidOptionError('refresh', 'a hot key (ttl: Infinity) needs a refresh interval')
  } else if (ttl !== undefined) positiveDuration(ttl, 'ttl')
  if (refresh !== undefined) positiveDuration(refresh, 'refresh')
  if (nullTtl !== undefined) positiveDuration(nullTtl, 'nullTtl')
  if (tags !== undefined) checkTags(tags)
  if (guard !== undefined && typeof (guard as { mightContain?: unknown } | null)?.mightContain !== 'function')
    throw new InvalidOptionError('guard', 'must be a guard from createGuard()')
}
