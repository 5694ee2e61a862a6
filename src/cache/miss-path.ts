/**
 * The miss path of `getOrLoad`: one tier-2 round trip reads the entry and, when it is absent or
 * past its fresh time, tries to take the key's rebuild lock. Across the whole fleet one caller
 * loads; the others serve the stale value (inside grace) or wait for the winner's fill. Also the
 * background refresh of a value still being served, and the loader run that writes both tiers.
 */
import { backoffDelay, sleep } from '../backoff.js'
import { LoaderError, RebuildTimeoutError } from '../errors.js'
import type { Loader, LoadOptions } from './api.js'
import type { CacheCore } from './core.js'
import type { L1Sync } from './l1-sync.js'
import { HOT_KEY_MAX_BACKOFF_MS, POLL_BASE_MS, POLL_MAX_MS } from './rebuild-timing.js'
import { type Fenced, freshTime, serveFromTierTwo, tagsOfText } from './tier-two-read.js'
import { Uncached } from './uncached.js'

/** One key's miss: the cache, the key (full and as the caller gave it), its loader and options. */
export interface Miss<T> {
  core: CacheCore
  /** The key with the view's namespace. */
  full: string
  /** The key as the caller gave it (what the loader is called with). */
  key: string
  loader: Loader<T>
  options: LoadOptions | undefined
  /** The version tags an entry written for it carries (its namespaces' and the caller's). */
  tags: string[] | undefined
}

/** Learns the versions of an entry's tags when this instance does not know them yet. */
export async function learnTagsOf(sync: L1Sync, texts: Array<string | undefined>): Promise<void> {
  const tags = new Set<string>()
  for (const text of texts) for (const tag of Object.keys(tagsOfText(text) ?? {})) tags.add(tag)
  if (tags.size > 0) await sync.learn([...tags])
}

/**
 * The miss path. One tier-2 round trip reads the entry and, when it is absent or past its fresh
 * time, tries to take the key's rebuild lock: across the whole fleet one caller loads, the
 * others serve the stale value (inside grace) or wait for the winner's fill. With `forceFresh`
 * the entry counts as past its fresh time and is not served: the caller loads, fenced when it
 * took the lock, into L1 only when another instance holds it (that holder's fill is not waited
 * for: it may have read the source before this caller asked).
 */
export async function loadMiss<T>(m: Miss<T>): Promise<T | null> {
  const { core, full, tags } = m
  const forced = m.options?.forceFresh
  const sync = core.sync
  if (tags) await sync.learn(tags)
  // A sync that is due goes out with the read (the client pipelines them into one request).
  const syncing = sync.ensure(core.options.now())
  const startGen = sync.gen
  const token = globalThis.crypto.randomUUID()
  const tierKey = core.tierKey(full)
  const read = (now: number) =>
    core.tierTwo('get', () =>
      core.store.readOrLock(tierKey, token, core.options.lockTtlMs, now, tags && sync.versionsOf(tags)),
    )
  let [seen] = await Promise.all([read(forced ? Number.MAX_SAFE_INTEGER : core.options.now()), syncing])
  if (seen === undefined) {
    // Tier 2 failed or timed out: fail open, the loader answers; its value stays in L1 only.
    countMiss(core, full)
    return runLoader(m)
  }
  const entryTags = tagsOfText(seen.text)
  if (entryTags) {
    await learnTagsOf(sync, [seen.text])
    // Invalidated by a tag since it was written, though fresh by its time: take the lock now.
    if (!seen.locked && sync.current(entryTags) !== true) seen = (await read(Number.MAX_SAFE_INTEGER)) ?? seen
  }
  const fenced = seen.locked ? { fence: seen.fence, token } : undefined
  const served =
    !forced && serveFromTierTwo<T>(core, full, seen.text, startGen, (f) => refreshServed(m, f), fenced)
  if (served) return served.value
  countMiss(core, full)
  if (fenced) return runLoader(m, fenced)
  return forced ? runLoader(m) : waitForFill(m)
}

/**
 * A background refresh of a value that is still served (stale inside grace, or early by XFetch).
 * Without the lock it first tries to take it: one refresh for the fleet.
 */
export async function refreshServed<T>(m: Miss<T>, fenced?: Fenced): Promise<unknown> {
  const { core, full } = m
  let lock = fenced
  if (!lock) {
    const token = globalThis.crypto.randomUUID()
    // "Stale as of the end of time": the script then tries the lock even on a fresh entry.
    const seen = await core.tierTwo('get', () =>
      core.store.readOrLock(core.tierKey(full), token, core.options.lockTtlMs, Number.MAX_SAFE_INTEGER),
    )
    if (!seen?.locked) return // someone else is refreshing it (or tier 2 is away)
    lock = { fence: seen.fence, token }
  }
  return runLoader(m, lock, true)
}

function countMiss(core: CacheCore, full: string): void {
  core.counters.misses++
  core.emit(() => ({ type: 'miss', key: full }))
}

/**
 * Another instance holds the rebuild lock: poll (backoff with full jitter) until its fill lands,
 * taking the lock over if it is released or expires (the holder failed or died), up to
 * `rebuild.wait`; then load anyway (fail open) or throw, as configured.
 */
async function waitForFill<T>(m: Miss<T>): Promise<T | null> {
  const { core, full, key, tags } = m
  const sync = core.sync
  const { lockWaitMs, lockTtlMs, random } = core.options
  core.counters.rebuildWaits++
  core.emit(() => ({ type: 'rebuildWait', key: full }))
  // Real time: this waits for another process, whatever clock the cache was given.
  const deadline = Date.now() + lockWaitMs
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    await sleep(
      Math.min(backoffDelay(attempt, POLL_BASE_MS, POLL_MAX_MS, random), Math.max(1, deadline - Date.now())),
    )
    const token = globalThis.crypto.randomUUID()
    const startGen = sync.gen
    const seen = await core.tierTwo('get', () =>
      core.store.readOrLock(
        core.tierKey(full),
        token,
        lockTtlMs,
        core.options.now(),
        tags && sync.versionsOf(tags),
      ),
    )
    if (seen === undefined) break
    await learnTagsOf(sync, [seen.text])
    const served = serveFromTierTwo<T>(core, full, seen.text, startGen)
    if (served) return served.value
    if (seen.locked) return runLoader(m, { fence: seen.fence, token })
  }
  core.counters.rebuildWaitTimeouts++
  core.emit(() => ({ type: 'rebuildWaitTimeout', key: full }))
  if (core.options.onWaitTimeout === 'throw') throw new RebuildTimeoutError(key, lockWaitMs)
  return runLoader(m)
}

/**
 * Runs the loader and writes what it found to both tiers (fenced when this caller holds the
 * rebuild lock). A failed refresh keeps the stale value served and holds the lock as a backoff.
 * (The lock's release is written out where it happens, not in a helper: gzip takes the repeats
 * for a few bytes, a helper cost 18 B of the Worker bundle's budget.)
 */
async function runLoader<T>(m: Miss<T>, fenced?: Fenced, refreshing = false): Promise<T | null> {
  const { core, full, key, loader, options, tags } = m
  // The loader reads the source after every sync so far: only a later one can make it old.
  const startGen = core.sync.gen
  // The tag versions before the load: if a tag moves while it runs, the value is older than that.
  const versions = tags && core.sync.versionsOf(tags)
  const started = core.options.now()
  let value: T | null | undefined | Uncached<T>
  try {
    value = await loader(key, { refreshing })
  } catch (error) {
    core.counters.loadErrors++
    core.emit(() => ({ type: 'loadError', key: full, error }))
    if (refreshing) {
      // Stale-if-error: the stale value keeps being served, and the rebuild lock is held on as a
      // fleet-wide backoff (no instance retries the failing source meanwhile): lockTtl, doubled
      // at each consecutive failure of this process, up to the end of grace.
      core.counters.refreshErrors++
      if (fenced) {
        const failures = (core.refreshFailures.get(full) ?? 0) + 1
        core.refreshFailures.set(full, failures)
        const { lockTtlMs, graceMs } = core.options
        const cap = options?.ttl === Infinity ? HOT_KEY_MAX_BACKOFF_MS : Math.max(graceMs, lockTtlMs)
        const hold = Math.min(lockTtlMs * 2 ** Math.min(failures - 1, 30), cap)
        core.background(
          core.tierTwo('set', () => core.store.holdLock(core.tierKey(full), fenced.token, hold)),
        )
      }
    } else if (fenced) {
      // A miss: let the next caller (here or elsewhere) try at once instead of waiting out the lock.
      core.background(core.tierTwo('set', () => core.store.unlock(core.tierKey(full), fenced.token)))
    }
    throw new LoaderError(key, error)
  }
  const ms = core.options.now() - started
  if (value instanceof Uncached) {
    // Answered, not stored: the rebuild lock goes at once, so the next caller loads for itself.
    core.counters.uncached++
    core.emit(() => ({ type: 'load', key: full, ms, found: true }))
    if (fenced)
      core.background(core.tierTwo('set', () => core.store.unlock(core.tierKey(full), fenced.token)))
    return value.value
  }
  const found = value !== null && value !== undefined
  core.counters.loads++
  core.refreshFailures.delete(full)
  core.emit(() => ({ type: 'load', key: full, ms, found }))
  const hot = found && options?.ttl === Infinity
  try {
    core.write(
      full,
      found ? value : null,
      freshTime(core.options, found, options),
      ms,
      versions,
      startGen,
      fenced ?? 'local',
      hot,
    )
  } catch (error) {
    // The value cannot be encoded (UnserializableValueError): no fill will come, so on a miss the
    // rebuild lock goes at once, as after a loader error; held, it made every caller in the fleet
    // wait out `rebuild.wait`. (A refresh keeps the lock to its ttl: the stale value is served.)
    if (fenced && !refreshing)
      core.background(core.tierTwo('set', () => core.store.unlock(core.tierKey(full), fenced.token)))
    throw error
  }
  return found ? (value as T) : null
}
