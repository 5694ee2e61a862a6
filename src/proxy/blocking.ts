/**
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, XREADGROUP BLOCK, WAIT ...) hold
 * their connection until data comes. On the shared connection they would stall
 * every other request, so each runs on a dedicated connection, with a cap on how many at once
 * (past it: 429) and a maximum block time (a longer or infinite block is shortened to it).
 * Subscriptions share the same cap: they also hold a connection each.
 */
import calculateSlot from 'cluster-key-slot'
import type { Redis } from 'ioredis'
import type { CommandArgs, CommandInfo } from './command-table.js'
import { ProxyHttpError } from './http-error.js'
import { rawCall } from './raw-call.js'
import type { Upstream } from './upstream.js'

/** Limits of the dedicated connections. */
export interface BlockingLimits {
  /** Blocking commands and subscriptions at once. */
  maxConnections: number
  /** The longest a command may block, in milliseconds. */
  maxBlockMs: number
}

/** Runs blocking commands on dedicated connections under a cap. */
export class BlockingRunner {
  #inUse = 0
  readonly #upstream: Upstream
  readonly #limits: BlockingLimits
  readonly #onRedirect: () => void

  /**
   * @param onRedirect called for each MOVED/ASK redirect followed (for metrics)
   */
  constructor(upstream: Upstream, limits: BlockingLimits, onRedirect: () => void = () => {}) {
    this.#upstream = upstream
    this.#limits = limits
    this.#onRedirect = onRedirect
  }

  /** Dedicated connections in use now. */
  get inUse(): number {
    return this.#inUse
  }

  /**
   * Reserves one dedicated connection slot.
   * @returns a release function to call exactly once
   * @throws {ProxyHttpError} 429 when the cap is reached
   */
  reserve(): () => void {
    if (this.#inUse >= this.#limits.maxConnections) {
      throw new ProxyHttpError(
        429,
        `ERR too many blocking commands and subscriptions at once (${this.#limits.maxConnections}); retry later`,
      )
    }
    this.#inUse++
    let released = false
    return () => {
      if (!released) {
        released = true
        this.#inUse--
      }
    }
  }

  /** Runs one blocking command, its block time clamped to the maximum. */
  async run(command: CommandArgs, info: CommandInfo): Promise<unknown> {
    const release = this.reserve()
    const clamped = clampBlockTime(command, info, this.#limits.maxBlockMs)
    const firstKey = info.keyIndexes[0] !== undefined ? command[info.keyIndexes[0] + 1] : undefined
    const slot =
      firstKey !== undefined && this.#upstream.mode === 'cluster' ? calculateSlot(firstKey) : undefined
    try {
      return await this.#runOn(this.#upstream.dedicated({ slot }), clamped, 0)
    } finally {
      release()
    }
  }

  async #runOn(connection: Redis, command: CommandArgs, redirects: number): Promise<unknown> {
    try {
      return await rawCall(connection, command)
    } catch (error) {
      // The slot moved (resharding, or a failover since the slot table was read): follow it once
      // or twice, as a cluster client would; the HTTP client never sees a redirect.
      const redirect = /^(MOVED|ASK) \d+ (\S+)$/.exec((error as Error).message ?? '')
      if (!redirect || redirects >= 2) throw error
      this.#onRedirect()
      const target = this.#upstream.dedicated({ address: redirect[2] })
      if (redirect[1] === 'ASK') await target.call('asking')
      return this.#runOn(target, command, redirects + 1)
    } finally {
      connection.disconnect()
    }
  }
}

/**
 * Shortens a command's block time to `maxBlockMs` (also an infinite block, `0`).
 * @returns the command to send (a copy when changed)
 */
export function clampBlockTime(command: CommandArgs, info: CommandInfo, maxBlockMs: number): CommandArgs {
  const out = [...command] as CommandArgs
  const setMs = (index: number) => {
    const ms = Number(out[index])
    if (Number.isFinite(ms) && (ms === 0 || ms > maxBlockMs)) out[index] = String(maxBlockMs)
  }
  const setSeconds = (index: number) => {
    const s = Number(out[index])
    if (Number.isFinite(s) && (s === 0 || s * 1000 > maxBlockMs)) out[index] = String(maxBlockMs / 1000)
  }
  switch (info.name) {
    case 'xread':
    case 'xreadgroup': {
      const at = out.findIndex((a, i) => i > 0 && a.toLowerCase() === 'block')
      if (at > 0 && at + 1 < out.length) setMs(at + 1)
      break
    }
    case 'blmpop':
    case 'bzmpop':
      setSeconds(1)
      break
    case 'wait':
      setMs(2)
      break
    case 'waitaof':
      setMs(3)
      break
    default:
      // BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN, BZPOPMAX: the timeout is the last argument.
      setSeconds(out.length - 1)
  }
  return out
}
