/**
 * A work queue on a Redis Stream with a consumer group, over the Upstash REST protocol (no TCP in
 * the function). Why a Stream: a list-based queue loses a message when its consumer dies after
 * popping it, and pub/sub keeps nothing; a Stream with a consumer group keeps messages, lets many
 * consumers share them, and records what was delivered but not acknowledged (the pending list),
 * so a crashed consumer's messages are reclaimed by another, and a poison message is moved aside.
 * Delivery is at least once: handlers get the id and the delivery count to be idempotent.
 */
import type { ScriptRunner } from '../cache/upstash-store.js'
import { InvalidOptionError } from '../errors.js'
import { checkOptionNames } from '../option-names.js'
import { type RedisConnection, upstashClient } from '../upstash-client.js'
import {
  type ConsumeOptions,
  checkDeadLetter,
  checkHandler,
  checkKeyPart,
  DEFAULT_DEAD_LETTER,
  type DrainOptions,
  positiveInteger,
  type ResolvedConsume,
  resolveConsume,
  resolveDrain,
} from './options.js'
import { ADD, DEAD_LETTER, DEAD_LETTERS, RECEIVE, STATS } from './scripts.js'

export { type ConsumeOptions, checkDrainOptions, type DrainOptions } from './options.js'

/**
 * How long an add's record of its ids is kept, for the client's retries of that call. Far beyond
 * `@upstash/redis`'s own (5 by default, after 0.05 to 2.7 s: 4.3 s in all), and short enough that a
 * producer adding one message at a time keeps few records (136 B each in Redis's MEMORY USAGE, so
 * 1,000 adds a second hold about 8 MB; a batch of 100 messages, 2.1 KB).
 */
const ADD_RECORD_MS = 60_000

/** One message as a handler gets it. */
export interface QueueMessage<T> {
  /** The stream entry id (unique, time-ordered). */
  id: string
  payload: T
  /** How many times it has been delivered, this time included (1 the first time). */
  deliveries: number
}

/** Options of `createQueue`. */
export interface QueueOptions {
  /** An `@upstash/redis` client, or `{ url, token }` (Upstash, or the tiercache proxy). */
  redis: RedisConnection
  /**
   * The queue's name: its stream is `<namespace>:{name}`, its dead letters
   * `<namespace>:{name}:dead-letter`, and each add's short-lived record `<namespace>:{name}#add:<uuid>`.
   */
  name: string
  /**
   * What its keys start with (a proxy token limited to a key prefix reaches only keys under it:
   * give that prefix's leading part here, `tenant-a` for `tenant-a:`).
   * @default 'tcq'
   */
  namespace?: string
}

/** What a `consume` or `drain` did. */
export interface DrainSummary {
  /** Messages the handler finished (acknowledged). */
  handled: number
  /** Handler failures (the message stays pending and is delivered again after `claimIdle`). */
  failed: number
  /** Messages moved to the dead-letter stream. */
  deadLettered: number
  /** Messages reclaimed from a consumer that did not acknowledge them in time. */
  reclaimed: number
}

/** A dead letter: the message and its history. */
export interface DeadLetter {
  id: string
  payload: unknown
  deliveries: number
  group: string
  error: string
  at: number
}

/** `stats()`: the stream and its groups. */
export interface QueueStats {
  length: number
  deadLetters: number
  groups: Array<{
    name: string
    pending: number
    /**
     * Messages in the stream not yet delivered to this group: its backlog (what to scale
     * consumers on). `undefined` when Redis cannot tell, after deletions or a trim past the group.
     */
    lag: number | undefined
    lastDeliveredId: string
    consumers: Array<{ name: string; pending: number; idleMs: number; oldestPendingMs: number | undefined }>
  }>
}

/** The queue. */
export interface Queue {
  readonly name: string
  /**
   * Appends one message or many (one round trip). With `maxLen`, a stream longer than about that
   * is trimmed of the messages every group has acknowledged, oldest first: never a message a
   * group has not been delivered or has not acknowledged (a group behind keeps the stream long
   * until it catches up; with no group yet, the oldest go). Safe to send twice: the HTTP client's
   * retry of this call (after a lost answer) appends nothing more and answers the same ids; a new
   * call with the same payloads is new messages.
   * @returns the ids, in order
   */
  add<T>(payloads: T | T[], options?: { maxLen?: number }): Promise<string[]>
  /** Consumes until `signal` aborts: batches of reclaimed and new messages, each acknowledged once handled. */
  consume<T>(handler: (message: QueueMessage<T>) => unknown, options?: ConsumeOptions): Promise<DrainSummary>
  /** Consumes until the queue is empty, `maxMessages` or `maxMs` (for one serverless invocation). */
  drain<T>(handler: (message: QueueMessage<T>) => unknown, options?: DrainOptions): Promise<DrainSummary>
  /**
   * Length (acknowledged messages included, until `maxLen` trims them), dead letters, and per group:
   * backlog (`lag`), pending count, and per consumer pending and oldest pending age.
   */
  stats(): Promise<QueueStats>
  /** The dead letters, oldest first (of the default dead-letter stream, or the one named). */
  deadLetters(count?: number, deadLetter?: string): Promise<DeadLetter[]>
}

/** A payload from the wire (a client with automatic deserialization may have parsed it already). */
function parsePayload(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/**
 * Creates a queue handle (nothing is written until the first `add` or `consume`).
 * @throws {InvalidOptionError} naming the bad option
 * @example
 * const queue = createQueue({ redis: { url, token }, name: 'emails' })
 * await queue.add({ to: 'ada@example.com' })
 * await queue.drain(async ({ payload }) => send(payload), { maxMs: 20_000 })
 */
export function createQueue(options: QueueOptions): Queue {
  checkOptionNames(options ?? {}, ['redis', 'name', 'namespace'])
  const name = checkKeyPart(options?.name, 'name')
  const namespace = checkKeyPart(options.namespace ?? 'tcq', 'namespace')
  const redis = upstashClient(options.redis)
  const stream = `${namespace}:{${name}}`
  const keys = [stream, `${stream}:${DEFAULT_DEAD_LETTER}`]
  const keysFor = (deadLetter: string) =>
    deadLetter === DEFAULT_DEAD_LETTER ? keys : [stream, `${stream}:${deadLetter}`]
  const addScript = redis.createScript(ADD) as ScriptRunner<string[]>
  const receiveScript = redis.createScript(RECEIVE) as ScriptRunner<
    [Array<[string, unknown, number]>, number, number]
  >
  const deadScript = redis.createScript(DEAD_LETTER) as ScriptRunner<number>
  const statsScript = redis.createScript(STATS) as ScriptRunner<[number, number, unknown[]]>
  const deadLettersScript = redis.createScript(DEAD_LETTERS) as ScriptRunner<Array<[string, unknown[]]>>

  /** Runs batches until `more()` says stop; the handler's failures never escape. */
  async function run<T>(
    handler: (message: QueueMessage<T>) => unknown,
    o: ResolvedConsume,
    more: (summary: DrainSummary, emptyBatch: boolean) => boolean,
    limit: (summary: DrainSummary) => number,
  ): Promise<DrainSummary> {
    const summary: DrainSummary = { handled: 0, failed: 0, deadLettered: 0, reclaimed: 0 }
    // Finished ids ride on the next batch's request; the last ones are flushed at the end.
    let finished: string[] = []
    try {
      await batches()
    } finally {
      if (finished.length > 0) await redis.xack(keys[0]!, o.group, finished)
    }
    return summary

    async function batches(): Promise<void> {
      for (;;) {
        if (o.signal?.aborted) break
        const wanted = Math.min(o.count, limit(summary))
        if (wanted <= 0) break
        const [batch, reclaimed, dead] = await receiveScript.exec(keysFor(o.deadLetter), [
          o.group,
          o.consumer,
          String(wanted),
          String(o.claimIdleMs),
          String(o.maxDeliveries),
          o.from,
          String(Date.now()),
          ...finished,
        ])
        finished = []
        summary.reclaimed += Number(reclaimed)
        summary.deadLettered += Number(dead)
        let messages = batch.map(([id, payload, deliveries]) => ({
          id: String(id),
          raw: payload,
          deliveries: Number(deliveries),
        }))
        if (messages.length === 0 && o.blockMs > 0 && more(summary, false)) {
          // Nothing now: wait for new messages on the proxy's dedicated blocking connection.
          messages = await blockingRead(wanted, o)
        }
        if (messages.length === 0) {
          if (!more(summary, true)) break
          continue
        }
        const done: string[] = []
        for (const m of messages) {
          try {
            await handler({ id: m.id, payload: parsePayload(m.raw) as T, deliveries: m.deliveries })
            done.push(m.id)
          } catch (error) {
            summary.failed++
            // Its last allowed delivery failed: aside now, with the error, rather than after claimIdle.
            if (m.deliveries >= o.maxDeliveries) {
              const text = error instanceof Error ? error.message : String(error)
              await deadScript.exec(keysFor(o.deadLetter), [
                o.group,
                m.id,
                typeof m.raw === 'string' ? m.raw : JSON.stringify(m.raw),
                String(m.deliveries),
                text,
                String(Date.now()),
              ])
              summary.deadLettered++
            }
          }
        }
        finished = done
        summary.handled += done.length
        if (!more(summary, false)) break
      }
    }
  }

  async function blockingRead(
    count: number,
    o: ResolvedConsume,
  ): Promise<Array<{ id: string; raw: unknown; deliveries: number }>> {
    const answer = (await redis.xreadgroup(o.group, o.consumer, keys[0]!, '>', {
      count,
      blockMS: o.blockMs,
    })) as unknown
    // [[stream, [[id, [field, value, ...]], ...]]] (or null when the wait ran out)
    const streams = Array.isArray(answer) ? answer : []
    const entries = (Array.isArray(streams[0]) ? streams[0][1] : []) as Array<[string, unknown[]]>
    return (entries ?? []).map(([id, fields]) => {
      let raw: unknown = 'null'
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'p') raw = fields[i + 1]
      return { id: String(id), raw, deliveries: 1 }
    })
  }

  return {
    name,
    async add<T>(payloads: T | T[], addOptions: { maxLen?: number } = {}): Promise<string[]> {
      // A misspelt maxLen ignored would leave the stream growing without bound.
      checkOptionNames(addOptions ?? {}, ['maxLen'])
      const list = Array.isArray(payloads) ? payloads : [payloads]
      if (list.length === 0) return []
      const maxLen =
        addOptions.maxLen === undefined ? '' : String(positiveInteger(addOptions.maxLen, 'maxLen'))
      const texts = list.map((p, i) => {
        let text: string | undefined
        try {
          text = JSON.stringify(p)
        } catch (error) {
          // A BigInt or a cycle: named like the other payloads JSON cannot carry.
          throw new InvalidOptionError('payloads', `item ${i} is not JSON (${(error as Error).message})`)
        }
        if (text === undefined)
          throw new InvalidOptionError('payloads', `item ${i} is not JSON (${typeof p})`)
        return text
      })
      // One record per call, made before the request: @upstash/redis sends the same body when it
      // retries, so the script knows its own first run.
      const record = `${stream}#add:${globalThis.crypto.randomUUID()}`
      const ids = await addScript.exec([stream, record], [maxLen, String(ADD_RECORD_MS), ...texts])
      return ids.map(String)
    },
    // consume and drain are async so that a bad argument rejects, as every other call here does.
    async consume(handler, consumeOptions) {
      checkHandler(handler)
      const o = resolveConsume(consumeOptions)
      if (!o.signal)
        throw new InvalidOptionError(
          'signal',
          'consume runs until its signal aborts: pass one (or use drain)',
        )
      return run(
        handler,
        o,
        () => !o.signal?.aborted,
        () => Infinity,
      )
    },
    async drain(handler, drainOptions = {}) {
      checkHandler(handler)
      const { o, maxMessages, maxMs } = resolveDrain(drainOptions)
      const deadline = Date.now() + maxMs
      // Draining does not wait on an empty queue past one block, and never past the deadline.
      const blockMs = Math.min(o.blockMs, Math.max(0, deadline - Date.now()))
      const counted = (s: DrainSummary) => s.handled + s.failed
      return run(
        handler,
        { ...o, blockMs },
        (s, empty) => !empty && Date.now() < deadline && counted(s) < maxMessages,
        (s) => maxMessages - counted(s),
      )
    },
    async stats(): Promise<QueueStats> {
      const [length, dead, groups] = await statsScript.exec(keys, [])
      return {
        length: Number(length),
        deadLetters: Number(dead),
        groups: (
          groups as Array<[string, number, string, Array<[string, number, number, number]>, number]>
        ).map(([groupName, pending, last, consumers, lag]) => ({
          name: String(groupName),
          pending: Number(pending),
          lag: Number(lag) < 0 ? undefined : Number(lag),
          lastDeliveredId: String(last),
          consumers: consumers.map(([consumerName, p, idle, oldest]) => ({
            name: String(consumerName),
            pending: Number(p),
            idleMs: Number(idle),
            oldestPendingMs: Number(oldest) < 0 ? undefined : Number(oldest),
          })),
        })),
      }
    },
    async deadLetters(count = 100, deadLetter = DEFAULT_DEAD_LETTER): Promise<DeadLetter[]> {
      const entries = await deadLettersScript.exec(keysFor(checkDeadLetter(deadLetter)), [
        String(positiveInteger(count, 'count')),
      ])
      return entries.map(([, fields]) => {
        const f: Record<string, unknown> = {}
        for (let i = 0; i + 1 < fields.length; i += 2) f[String(fields[i])] = fields[i + 1]
        return {
          id: String(f.id),
          payload: parsePayload(f.p),
          deliveries: Number(f.deliveries),
          group: String(f.group),
          error: String(f.error),
          at: Number(f.at),
        }
      })
    },
  }
}
