/**
 * The per-call options of loads and writes (`WriteOptions`), checked before anything is read,
 * loaded or written: a mistake there would otherwise surface late (after the loader ran) or
 * not at all (an unknown name, a `ttl: 0` that writes an entry stale at once).
 */
import { InvalidOptionError } from '../errors.js'
import { checkOptionNames } from '../option-names.js'
import type { LoadOptions } from './api.js'
import { positiveDuration } from './options.js'
import { checkTags } from './tags.js'

/** The names of `WriteOptions` (`set`, `getMany`). */
const WRITE_OPTIONS: readonly string[] = ['ttl', 'refresh', 'nullTtl', 'tags', 'guard']
/** The names of `LoadOptions` (`getOrLoad`): a `forceFresh` given to `set` is refused, not ignored. */
export const LOAD_OPTIONS: readonly string[] = [...WRITE_OPTIONS, 'forceFresh']

/**
 * Checks per-call options: known names; durations above 0 (`ttl: Infinity`, a hot key, with a
 * `refresh`); tags an array of non-empty strings; a guard with `mightContain`; `forceFresh` a boolean.
 * @param names the names the call knows (default: `WriteOptions`')
 * @throws {InvalidOptionError} naming the first bad option
 */
export function checkWriteOptions(options: LoadOptions, names = WRITE_OPTIONS): void {
  checkOptionNames(options, names)
  const { ttl, refresh, nullTtl, tags, guard, forceFresh } = options
  if (forceFresh !== undefined && typeof forceFresh !== 'boolean')
    throw new InvalidOptionError('forceFresh', 'must be a boolean')
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
