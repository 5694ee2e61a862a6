/**
 * The miss path of `getMany`: the keys L1 did not answer are read from tier 2 in one round trip,
 * and what tier 2 did not have goes to one `loadMany` call. Each key's in-process flight (for
 * callers that joined it) is settled as soon as its value is known.
 */
import { LoaderError } from '../errors.js'
import type { BatchLoader, WriteOptions } from './api.js'
import type { CacheCore } from './core.js'
import { decodeEnvelope } from './envelope.js'
import { learnTagsOf, refreshServed } from './miss-path.js'
import { freshTime, type Reload, serveFromTierTwo } from './tier-two-read.js'

/** Settles one key's flight in a getMany batch. */
export interface Settle {
  resolve(value: unknown): void
  reject(error: unknown): void
}

/**
 * Reads the batch's keys at `indexes` from tier 2 in one round trip, then loads what it did not
 * have with one `loadMany` call (when the batch has one; else they stay `undefined`).
 *
 * Plain parameters rather than one batch object: the object, its literal and its reads cost the
 * Worker bundle 83 B gzipped more (measured; its aim leaves tiercache 15,360 B in all).
 * @param keys the keys as the caller gave them (what `loadMany` is called with)
 * @param fulls the same keys with the view's namespace
 * @param tags the version tags an entry written for the batch carries (namespaces' and caller's)
 * @param results the answers, by index of `keys`: filled in here
 * @param indexes which of the keys to read
 * @param settle the in-process flights the batch owns, by index: settled here
 */
export async function readBatch<T>(
  core: CacheCore,
  keys: string[],
  fulls: string[],
  loadMany: BatchLoader<T> | undefined,
  options: WriteOptions | undefined,
  tags: string[] | undefined,
  results: Array<T | null | undefined>,
  indexes: number[],
  settle?: Map<number, Settle>,
): Promise<void> {
  if (indexes.length === 0) return
  try {
    const startGen = core.sync.gen
    const answer = await core.tierTwo('get', () =>
      core.store.getMany(indexes.map((i) => core.tierKey(fulls[i]!))),
    )
    const tierTwoAnswered = answer !== undefined
    const texts = answer ?? []
    await learnTagsOf(core.sync, texts)
    const toLoad: number[] = []
    // The fence each key had when read: the batch's fills compare against it, as getOrLoad's do.
    const fences = new Map<number, number>()
    indexes.forEach((i, j) => {
      fences.set(i, decodeEnvelope(texts[j])?.c ?? 0)
      // A stale key is refreshed like getOrLoad's, through the rebuild lock, with loadMany for one key.
      const one = loadMany && ((k: string) => Promise.resolve(loadMany([k])).then((values) => values[0]))
      // The batch is a Miss of each key but for the key and loader (its other fields go along unread).
      const reload: Reload | undefined =
        one && ((f) => refreshServed({ core, full: fulls[i]!, key: keys[i]!, loader: one, options, tags }, f))
      const served = serveFromTierTwo<T>(core, fulls[i]!, texts[j], startGen, reload)
      if (served) {
        results[i] = served.value
        settle?.get(i)?.resolve(served.value)
      } else {
        core.counters.misses++
        core.emit(() => ({ type: 'miss', key: fulls[i]! }))
        toLoad.push(i)
      }
    })
    if (loadMany && toLoad.length > 0)
      await loadBatch(
        core,
        keys,
        fulls,
        loadMany,
        options,
        tags,
        results,
        toLoad,
        tierTwoAnswered ? fences : undefined,
      )
    for (const i of toLoad) settle?.get(i)?.resolve(results[i])
  } catch (error) {
    // Settled keys ignore this; the ones still loading fail with the batch, for whoever joined them.
    for (const i of indexes) settle?.get(i)?.reject(error)
    throw error
  }
}

/**
 * One `loadMany` call (parameters as `readBatch`'s) for the keys at `indexes`; each value is written to both tiers, fenced by
 * what tier 2 held when read (`fences`; none when tier 2 did not answer: L1 only).
 */
async function loadBatch<T>(
  core: CacheCore,
  keys: string[],
  fulls: string[],
  loadMany: BatchLoader<T>,
  options: WriteOptions | undefined,
  tags: string[] | undefined,
  results: Array<T | null | undefined>,
  indexes: number[],
  fences: Map<number, number> | undefined,
): Promise<void> {
  const startGen = core.sync.gen // as in the miss path's loader run
  const wanted = indexes.map((i) => keys[i]!)
  const versions = tags && core.sync.versionsOf(tags)
  const started = core.options.now()
  let values: Array<T | null | undefined>
  try {
    values = await loadMany(wanted)
    // A wrong answer is a failed load: counted, emitted and wrapped as a throw is.
    if (!Array.isArray(values) || values.length !== wanted.length) {
      throw new TypeError(
        `loadMany must return an array of ${wanted.length} values, in the order of the keys it was given`,
      )
    }
  } catch (error) {
    core.counters.loadErrors++
    core.emit(() => ({ type: 'loadError', key: wanted.join(','), error }))
    throw new LoaderError(wanted.join(','), error)
  }
  const ms = core.options.now() - started
  indexes.forEach((i, j) => {
    const value = values[j]
    const found = value !== null && value !== undefined
    core.counters.loads++
    core.emit(() => ({ type: 'load', key: fulls[i]!, ms, found }))
    // Compare-on-fence without a lock (empty token: nothing to release); unfenced when tier 2
    // did not answer the read (fail open).
    const fence = fences?.get(i)
    const fenced = fence === undefined ? ('local' as const) : { fence, token: '' }
    core.write(
      fulls[i]!,
      found ? value : null,
      freshTime(core.options, found, options),
      ms,
      versions,
      startGen,
      fenced,
    )
    results[i] = found ? value : null
  })
}
