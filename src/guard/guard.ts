/**
 * The Bloom-filter guard against penetration (ids that exist nowhere): "definitely absent" is
 * answered in process, with no tier-2 call and no loader. The shared state is a Redis bitmap per
 * generation; each instance mirrors it in process (loaded once, refreshed on an interval and
 * after its own adds), so an absent id costs no network. Rebuilds fill a new generation from the
 * source of truth and then switch a pointer, so readers never see a half-built filter.
 *
 * There are no false negatives only if every entity is added when it is written (`add`) or the
 * filter is rebuilt from the source of truth (`rebuild`): an id never added answers "absent".
 */
import type { Redis } from '@upstash/redis'
import type { ScriptRunner } from '../cache/upstash-store.js'
import { type Duration, parseDuration } from '../duration.js'
import { InvalidOptionError, TiercacheError } from '../errors.js'
import { describeValue } from '../option-names.js'
import { BloomFilter, bloomSize } from './bloom-filter.js'
import { ADD, BEGIN_REBUILD, LOAD, SET_BITS, SWITCH } from './scripts.js'

/** Options of one guard. */
export interface GuardOptions {
  /** How many ids the filter is designed for (past it, false positives grow; a rebuild is asked for). */
  expected: number
  /** False-positive rate at the design load. @default 0.01 */
  fpRate?: number
  /** How often the in-process mirror reloads the shared bitmap. @default '30s' */
  refresh?: Duration
}

/** What `stats()` reports. */
export interface GuardStats {
  name: string
  loaded: boolean
  generation: string
  expected: number
  bits: number
  hashes: number
  fillRatio: number
  estimatedFpRate: number
  estimatedCount: number
  /** More ids than the design load: false positives exceed `fpRate`; rebuild with a larger `expected`. */
  overloaded: boolean
}

/** A guard on a set of ids. */
export interface Guard {
  readonly name: string
  /** False: definitely never added. True: maybe (also before the mirror is loaded, or with tier 2 down). */
  mightContain(id: string): boolean
  /**
   * Adds ids to the mirror at once and to the shared bitmap (one call per batch). Rejects when
   * tier 2 did not take them (other instances will not see them; counted as an l2Error too).
   */
  add(ids: string | string[]): Promise<void>
  /** Rebuilds the shared filter from the source of truth, then switches to it. */
  rebuild(source: Iterable<string> | AsyncIterable<string>): Promise<{ added: number; generation: string }>
  /** Loads (or reloads) the mirror now. */
  load(): Promise<void>
  stats(): GuardStats
}

/** What the guard reports to its cache. */
export interface GuardHooks {
  now: () => number
  background: (work: Promise<unknown>) => void
  onError: (operation: 'guardLoad' | 'guardAdd', error: unknown) => void
  onOverloaded: (stats: GuardStats) => void
}

const MAX_NAME_LENGTH = 200
/** Redis's largest string, and BITFIELD's largest offset: 512 MB, 2³² bits. */
const MAX_BITS = 2 ** 32
const POSITIONS_PER_CALL = 1000 // Lua unpack() limits: 4 arguments per position
const BUILDING_MARKER_TTL_MS = 3_600_000

/**
 * An id as the guard hashes it: a string, as the keys it answers for are. A number would hash as
 * no characters at all (every number alike), and then "absent" for its key's text: every real id
 * added as a number was refused by getOrLoad.
 */
function checkId(id: unknown, what: string): string {
  if (typeof id === 'string') return id
  const hint = typeof id === 'number' || typeof id === 'bigint' ? ` (pass String(${id}))` : ''
  throw new InvalidOptionError(
    what,
    `must be a string, as the keys the guard answers for are, got ${describeValue(id)}${hint}`,
  )
}

/**
 * Creates a guard. With a Redis client its state is shared by every instance; without one (the
 * in-memory tier 2) it lives in this process only.
 * @throws {InvalidOptionError} naming the bad option; {TiercacheError} E_INVALID_GUARD_NAME
 */
export function buildGuard(
  name: string,
  options: GuardOptions,
  redis: Redis | undefined,
  prefix: string,
  hooks: GuardHooks,
): Guard {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || /[{}]/.test(name)) {
    throw new TiercacheError(
      'E_INVALID_GUARD_NAME',
      `Invalid guard name ${JSON.stringify(name)}: a non-empty string of at most ${MAX_NAME_LENGTH} characters without braces`,
    )
  }
  const { expected, fpRate = 0.01, refresh = '30s' } = options ?? ({} as GuardOptions)
  if (!Number.isInteger(expected) || expected <= 0)
    throw new InvalidOptionError('expected', `must be a positive integer, got ${JSON.stringify(expected)}`)
  if (typeof fpRate !== 'number' || !(fpRate > 0 && fpRate < 1))
    throw new InvalidOptionError('fpRate', `must be in (0, 1), got ${JSON.stringify(fpRate)}`)
  const refreshMs = parseDuration(refresh, 'refresh')
  const size = bloomSize(expected, fpRate)
  if (size.bits > MAX_BITS) {
    throw new InvalidOptionError(
      'expected',
      `${expected} ids at fpRate ${fpRate} need a bitmap of ${Math.ceil(size.bits / 8 / 2 ** 20)} MB; a Redis string (and each instance's mirror of it) holds at most 512 MB: lower expected or raise fpRate`,
    )
  }
  const tag = `${prefix}guard:{${name}}`
  const keys = {
    current: `${tag}:current`,
    building: `${tag}:building`,
    counter: `${tag}:gen`,
    bitmap: `${tag}:g`,
  }
  const scripts = redis && {
    add: redis.createScript<string>(ADD) as ScriptRunner<string>,
    load: redis.createScript<Array<string | number>>(LOAD) as ScriptRunner<Array<string | number>>,
    begin: redis.createScript<number>(BEGIN_REBUILD) as ScriptRunner<number>,
    setBits: redis.createScript<number>(SET_BITS) as ScriptRunner<number>,
    switch: redis.createScript<string>(SWITCH) as ScriptRunner<string>,
  }

  let mirror = new BloomFilter(size)
  let loaded = scripts === undefined // a process-local guard is its own source of truth
  let generation = '0'
  let loadedAt = Number.NEGATIVE_INFINITY
  let loading: Promise<void> | undefined
  let warned = false

  const stats = (): GuardStats => {
    const estimatedCount = mirror.estimatedCount()
    return {
      name,
      loaded,
      generation,
      expected,
      bits: size.bits,
      hashes: size.hashes,
      fillRatio: mirror.fillRatio(),
      estimatedFpRate: mirror.estimatedFpRate(),
      estimatedCount,
      overloaded: estimatedCount > expected,
    }
  }
  const checkLoad = () => {
    const s = stats()
    if (s.overloaded && !warned) {
      warned = true
      hooks.onOverloaded(s)
    }
  }

  const load = (): Promise<void> => {
    if (!scripts) return Promise.resolve()
    loading ??= (async () => {
      try {
        const reply = await scripts.load.exec([keys.current], [keys.bitmap, String(size.bits / 32)])
        const words = Uint32Array.from(reply.slice(1), (v) => Number(v) >>> 0)
        mirror = new BloomFilter(size, words)
        generation = String(reply[0])
        loaded = true
        loadedAt = hooks.now()
        checkLoad()
      } catch (error) {
        hooks.onError('guardLoad', error)
        // Not loaded: mightContain keeps answering "maybe" (never blocks a real id).
      } finally {
        loading = undefined
      }
    })()
    return loading
  }

  const sendPositions = async (
    script: ScriptRunner<unknown>,
    scriptKeys: string[],
    head: string[],
    all: number[],
  ) => {
    for (let i = 0; i < all.length; i += POSITIONS_PER_CALL) {
      await script.exec(scriptKeys, [...head, ...all.slice(i, i + POSITIONS_PER_CALL).map(String)])
    }
  }

  return {
    name,
    mightContain(id: string): boolean {
      if (typeof id !== 'string') checkId(id, 'id')
      if (scripts && hooks.now() - loadedAt > refreshMs && !loading) hooks.background(load())
      if (!loaded) return true
      return mirror.mightContain(id)
    },
    async add(ids: string | string[]): Promise<void> {
      const list = Array.isArray(ids) ? ids : [ids]
      // Every id checked before any is added: a refused batch changes nothing.
      list.forEach((id, i) => {
        checkId(id, Array.isArray(ids) ? `ids[${i}]` : 'ids')
      })
      const all: number[] = []
      for (const id of list) all.push(...mirror.add(id))
      checkLoad()
      if (!scripts) return
      try {
        await sendPositions(scripts.add, [keys.current, keys.building], [keys.bitmap], all)
      } catch (error) {
        hooks.onError('guardAdd', error)
        throw error
      }
    },
    async rebuild(source: Iterable<string> | AsyncIterable<string>) {
      const iterable = source as Partial<Iterable<string> & AsyncIterable<string>> | null | undefined
      if (
        typeof iterable?.[Symbol.iterator] !== 'function' &&
        typeof iterable?.[Symbol.asyncIterator] !== 'function'
      )
        throw new InvalidOptionError(
          'source',
          `must be an iterable or async iterable of ids, got ${describeValue(source)}`,
        )
      const fresh = new BloomFilter(size)
      let added = 0
      if (!scripts) {
        for await (const id of source) {
          fresh.add(checkId(id, `source item ${added}`))
          added++
        }
        mirror = fresh
        warned = false
        checkLoad()
        return { added, generation }
      }
      const next = String(
        await scripts.begin.exec([keys.counter, keys.building], [String(BUILDING_MARKER_TTL_MS)]),
      )
      let batch: number[] = []
      for await (const id of source) {
        // A wrong item stops the rebuild before its switch: readers keep the current generation.
        batch.push(...fresh.add(checkId(id, `source item ${added}`)))
        added++
        if (batch.length >= POSITIONS_PER_CALL) {
          await scripts.setBits.exec([`${keys.bitmap}${next}`], batch.map(String))
          batch = []
        }
      }
      if (batch.length > 0) await scripts.setBits.exec([`${keys.bitmap}${next}`], batch.map(String))
      await scripts.switch.exec([keys.current, keys.building], [keys.bitmap, next])
      warned = false
      await load()
      return { added, generation: next }
    },
    load,
    stats,
  }
}
