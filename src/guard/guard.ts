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
import { BloomFilter, type BloomSize, bloomSize, positions } from './bloom-filter.js'
import { ABANDON, ADD, BEGIN_REBUILD, LOAD, SET_BITS, SWITCH } from './scripts.js'

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
  /** The design load of the filter in use (the shared generation's, which may not be this instance's). */
  expected: number
  bits: number
  hashes: number
  /**
   * False when the shared filter was made with another `expected` or `fpRate` than this
   * instance's (by an instance of an earlier deploy, say): it is used as it was made, and a
   * `rebuild()` makes it in this instance's sizing.
   */
  sizedAsConfigured: boolean
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
   * Adds ids to the mirror at once and to the shared bitmap (one call per batch). When the mirror
   * was not loaded yet, it is loaded before this resolves: then ids never added answer "absent".
   * Rejects when tier 2 did not take them (other instances will not see them; counted as an
   * l2Error too).
   */
  add(ids: string | string[]): Promise<void>
  /**
   * Rebuilds the shared filter from the source of truth, in this instance's sizing, then switches
   * to it, unless a rebuild that began later switched first (it holds every id this one would):
   * rebuilds may overlap, from any number of instances, and no add made meanwhile is lost.
   * @returns the ids read, and the generation in use after it
   */
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
/** Attempts of one add when the shared sizing changes under it (a rebuild switching between them). */
const ADD_ATTEMPTS = 4
/** How long a rebuild may take before others take it for dead (its adds stop reaching it). */
const REBUILD_DEADLINE_MS = 3_600_000

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

/** A filter's sizing as tier 2 keeps it beside each generation. */
interface Sizing extends BloomSize {
  expected: number
}

const sizingText = (s: Sizing) => `${s.bits}:${s.hashes}:${s.expected}`

/** A sizing read back from tier 2, or undefined when it is not one this code wrote. */
function parseSizing(text: unknown): Sizing | undefined {
  const match = typeof text === 'string' ? /^(\d+):(\d+):(\d+)$/.exec(text) : null
  if (!match) return undefined
  const [bits, hashes, expected] = [Number(match[1]), Number(match[2]), Number(match[3])]
  if (bits <= 0 || bits % 32 !== 0 || bits > MAX_BITS || hashes <= 0 || expected <= 0) return undefined
  return { bits, hashes, expected }
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
    throw new InvalidOptionError('expected', `must be a positive integer, got ${describeValue(expected)}`)
  if (typeof fpRate !== 'number' || !(fpRate > 0 && fpRate < 1))
    throw new InvalidOptionError('fpRate', `must be in (0, 1), got ${describeValue(fpRate)}`)
  const refreshMs = parseDuration(refresh, 'refresh')
  const configured: Sizing = { ...bloomSize(expected, fpRate), expected }
  if (configured.bits > MAX_BITS) {
    throw new InvalidOptionError(
      'expected',
      `${expected} ids at fpRate ${fpRate} need a bitmap of ${Math.ceil(configured.bits / 8 / 2 ** 20)} MB; a Redis string (and each instance's mirror of it) holds at most 512 MB: lower expected or raise fpRate`,
    )
  }
  const tag = `${prefix}guard:{${name}}`
  const keys = {
    current: `${tag}:current`,
    builds: `${tag}:builds`,
    counter: `${tag}:gen`,
    sizes: `${tag}:sizes`,
    bitmap: `${tag}:g`,
    begun: `${tag}:begun:`,
  }
  const scripts = redis && {
    add: redis.createScript<Array<string | number | null>>(ADD) as ScriptRunner<
      Array<string | number | null>
    >,
    load: redis.createScript<Array<string | number>>(LOAD) as ScriptRunner<Array<string | number>>,
    begin: redis.createScript<number>(BEGIN_REBUILD) as ScriptRunner<number>,
    setBits: redis.createScript<number>(SET_BITS) as ScriptRunner<number>,
    switch: redis.createScript<[number, string]>(SWITCH) as ScriptRunner<[number, string]>,
    abandon: redis.createScript<number>(ABANDON) as ScriptRunner<number>,
  }

  /** The sizing of the filter in use: this instance's until it loads a generation made in another. */
  let sizing = configured
  /** Sizings of generations being rebuilt that differ from `sizing`, as tier 2 last said. */
  let extraSizings: Sizing[] = []
  let mirror = new BloomFilter(sizing)
  let loaded = scripts === undefined // a process-local guard is its own source of truth
  /** The last load found a generation whose bitmap is gone: an add does not bring it back. */
  let bitmapLost = false
  let generation = '0'
  let loadedAt = -Infinity
  let loading: Promise<void> | undefined
  /**
   * Ids added while a load is in flight. The load may have read the bitmap before their add
   * reached it: they go into the mirror it brings, or this instance would answer "absent" for
   * ids it just added, until its next refresh.
   */
  let addedWhileLoading: string[] | undefined
  let warned = false

  const stats = (): GuardStats => {
    const estimatedCount = mirror.estimatedCount()
    return {
      name,
      loaded,
      generation,
      expected: sizing.expected,
      bits: sizing.bits,
      hashes: sizing.hashes,
      sizedAsConfigured: sizingText(sizing) === sizingText(configured),
      fillRatio: mirror.fillRatio(),
      estimatedFpRate: mirror.estimatedFpRate(),
      estimatedCount,
      overloaded: estimatedCount > sizing.expected,
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
      addedWhileLoading = []
      try {
        const reply = await scripts.load.exec([keys.current, keys.sizes], [keys.bitmap])
        // Tier 2 holds no filter, or lost its bitmap: "maybe" for every id until an add or a
        // rebuild makes one (a filter read as empty would answer every real id absent).
        if (reply[1] === '' || Number(reply[2]) === -1) {
          loaded = false
          generation = String(reply[0])
          loadedAt = hooks.now()
          bitmapLost = reply[1] !== ''
          if (reply[1] === '') return // never fed (or every key lost): nothing to say
          throw new Error(
            `guard "${name}": the bitmap of generation ${generation} is gone from tier 2 (evicted, or lost with its data; keep tier 2 on maxmemory-policy noeviction or volatile-*): it answers "maybe" until a rebuild`,
          )
        }
        const shared = parseSizing(reply[1])
        if (!shared)
          throw new Error(`guard "${name}": unreadable sizing ${JSON.stringify(reply[1])} in tier 2`)
        const words = Uint32Array.from(reply.slice(2), (v) => Number(v) >>> 0)
        const next = new BloomFilter(shared, words)
        for (const id of addedWhileLoading) next.add(id)
        mirror = next
        sizing = shared
        generation = String(reply[0])
        loaded = true
        bitmapLost = false
        loadedAt = hooks.now()
        checkLoad()
      } catch (error) {
        hooks.onError('guardLoad', error)
        // Not loaded: mightContain keeps answering "maybe" (never blocks a real id).
      } finally {
        loading = undefined
        addedWhileLoading = undefined
      }
    })()
    return loading
  }
  /** A load that starts now: one in flight may have read the bitmap before what the caller did. */
  const reload = async (): Promise<void> => {
    if (loading) await loading
    return load()
  }

  /**
   * Sets ids' bits in tier 2: in the current generation and every one being rebuilt, each in its
   * own sizing. Tier 2 refuses an add that lacks a generation's sizing and names it: the ids are
   * sent again with it (and, when the current generation's sizing is not the mirror's, the
   * mirror is reloaded in it first).
   */
  const addShared = async (add: ScriptRunner<Array<string | number | null>>, ids: string[]) => {
    let i = 0
    for (let attempt = 1; i < ids.length; attempt++) {
      const own = sizingText(sizing)
      const sizings = [sizing, ...extraSizings.filter((extra) => sizingText(extra) !== own)]
      // Ids per call: at most POSITIONS_PER_CALL positions in each sizing (Lua's unpack limit).
      const perCall = Math.max(1, Math.floor(POSITIONS_PER_CALL / Math.max(...sizings.map((z) => z.hashes))))
      const batch = ids.slice(i, i + perCall)
      const args = [keys.bitmap]
      for (const z of sizings) {
        const at = batch.flatMap((id) => positions(id, z))
        args.push(sizingText(z), String(at.length), ...at.map(String))
      }
      const reply = await add.exec([keys.current, keys.builds, keys.sizes], args)
      const named = reply
        .slice(3)
        .map(parseSizing)
        .filter((z): z is Sizing => z !== undefined)
      if (Number(reply[0]) === 1) {
        // The sizings tier 2 used, the current one among them: the others are rebuilds under way.
        extraSizings = named.filter((z) => sizingText(z) !== own)
        i += batch.length
        attempt = 0
        continue
      }
      if (attempt === ADD_ATTEMPTS)
        throw new Error(
          `guard "${name}": its shared sizing kept changing during an add (${ADD_ATTEMPTS} attempts)`,
        )
      extraSizings = [...extraSizings, ...named]
      // The current generation is in another sizing than the mirror's: load it, then put this
      // add's ids in the mirror it brought (tier 2 refused them: the load could not have them).
      if (reply[2] !== own) {
        await reload()
        for (const id of ids) mirror.add(id)
      }
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
      for (const id of list) mirror.add(id)
      addedWhileLoading?.push(...list)
      checkLoad()
      if (!scripts) return
      try {
        await addShared(scripts.add, list)
      } catch (error) {
        hooks.onError('guardAdd', error)
        throw error
      }
      // Not loaded yet (a fresh instance feeding its guard at start-up): load now, so that once
      // the add resolves "absent" is answered at once. Else the first requests after the feed all
      // answered "maybe" until a background load came back, and reached the loader. A load in
      // flight may have read the bitmap before this add (or found none): a new one is started.
      // Not when the bitmap is lost: the add did not bring it back, and only a rebuild will.
      if (!loaded && !bitmapLost) await reload()
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
      const fresh = new BloomFilter(configured)
      let added = 0
      if (!scripts) {
        for await (const id of source) {
          fresh.add(checkId(id, `source item ${added}`))
          added++
        }
        mirror = fresh
        sizing = configured
        warned = false
        checkLoad()
        return { added, generation }
      }
      const next = String(
        await scripts.begin.exec(
          [keys.counter, keys.builds, keys.sizes],
          [
            keys.bitmap,
            String(REBUILD_DEADLINE_MS),
            sizingText(configured),
            `${keys.begun}${globalThis.crypto.randomUUID()}`,
          ],
        ),
      )
      let batch: number[] = []
      try {
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
      } catch (error) {
        // Given up: adds stop going to it, and its bitmap goes (else both last until its deadline).
        await scripts.abandon.exec([keys.builds, keys.sizes], [keys.bitmap, next]).catch(() => {})
        throw error
      }
      // Not switched when a rebuild that began later switched first: it has every id this one has.
      const [switched] = await scripts.switch.exec(
        [keys.current, keys.builds, keys.sizes],
        [keys.bitmap, next],
      )
      warned = false
      await reload()
      return { added, generation: Number(switched) === 1 ? next : generation }
    },
    load,
    stats,
  }
}
