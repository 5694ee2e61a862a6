/**
 * A guard attached to a cache: its shared state lives in the cache's tier 2 (when that is Redis
 * over HTTP), its background work and errors go through the cache. One guard per name per cache:
 * every view of the cache shares its in-process mirror.
 */
import type { Cache } from '../cache/api.js'
import type { CacheCore } from '../cache/core.js'
import { coreOf } from '../cache/internals.js'
import { UpstashStore } from '../cache/upstash-store.js'
import { checkOptionNames } from '../option-names.js'
import { buildGuard, type Guard, type GuardOptions } from './guard.js'

const guards = new WeakMap<CacheCore, Map<string, Guard>>()

/**
 * The Bloom-filter guard `name` of a cache (created on first use, then shared by every view).
 * Pass it as `{ guard }` to `getOrLoad`/`getMany`; add ids when they are written, or rebuild it
 * from the source of truth: an id never added answers "absent" with no tier-2 call and no loader.
 * @throws {InvalidOptionError} naming a bad option; {TiercacheError} E_INVALID_GUARD_NAME
 * @example
 * const users = createGuard(cache, 'users', { expected: 1_000_000, fpRate: 0.01 })
 * await cache.getOrLoad(`user:${id}`, load, { guard: users })
 */
export function createGuard(cache: Cache, name: string, options: GuardOptions): Guard {
  checkOptionNames(options ?? {}, ['expected', 'fpRate', 'refresh'])
  const core = coreOf(cache)
  let byName = guards.get(core)
  if (!byName) {
    byName = new Map()
    guards.set(core, byName)
  }
  const existing = byName.get(name)
  if (existing) return existing
  const redis = core.store instanceof UpstashStore ? core.store.redis : undefined
  const guard = buildGuard(name, options, redis, core.options.prefix, {
    now: core.options.now,
    background: (work) => core.background(work),
    onError: (operation, error) => {
      core.counters.l2Errors++
      core.emit(() => ({ type: 'l2Error', operation, error }))
    },
    onOverloaded: (s) =>
      core.emit(() => ({
        type: 'guardOverloaded',
        guard: name,
        estimatedCount: s.estimatedCount,
        expected: s.expected,
      })),
  })
  byName.set(name, guard)
  return guard
}
