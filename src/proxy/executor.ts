/**
 * Runs validated, authorized commands against Redis: one command, a pipeline (every item routed
 * on its own and run in parallel, answers in request order) or a MULTI/EXEC transaction (all
 * keys in one slot). Replies stay raw (Buffers) until the encoder sees them.
 */
import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import type { BlockingRunner } from './blocking.js'
import { clusterHandler } from './cluster-routing.js'
import type { CommandArgs, CommandInfo } from './command-table.js'
import { ProxyHttpError } from './http-error.js'
import { batchedCall, type CommandTarget, rawCall } from './raw-call.js'
import { isWrite, type ReplicaAcks } from './replica-acks.js'
import type { Upstream } from './upstream.js'

/** The outcome of one command: a reply or an error (kept per item in pipelines and transactions). */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: Error }

/** Redis errors that mean "the cluster cannot serve this right now", not "your command is wrong". */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN)\b/

/**
 * Whether an error came from Redis itself (a reply such as `WRONGTYPE ...`) rather than from
 * failing to reach it.
 */
export function isRedisReply(error: Error): boolean {
  return error.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(error.message)
}

/** Runs commands for the HTTP layer. */
export class CommandExecutor {
  readonly #upstream: Upstream
  readonly #blocking: BlockingRunner
  readonly #acks: ReplicaAcks | undefined

  /** @param acks WAIT mode: writes are answered once enough replicas have them */
  constructor(upstream: Upstream, blocking: BlockingRunner, acks?: ReplicaAcks) {
    this.#upstream = upstream
    this.#blocking = blocking
    this.#acks = acks
  }

  /** Runs one command; rejects with Redis's error or an upstream error (503 in WAIT mode when replicas lag). */
  run(command: CommandArgs, info: CommandInfo): Promise<unknown> {
    // WAIT mode off (the default), or a read: straight through, no extra promise on the request path.
    if (!this.#acks || !isWrite(info)) return this.#runOne(command, info)
    return this.#runConfirmed(command, info, this.#acks)
  }

  async #runConfirmed(command: CommandArgs, info: CommandInfo, acks: ReplicaAcks): Promise<unknown> {
    const value = await this.#runOne(command, info)
    await acks.confirm([{ command, info }])
    return value
  }

  #runOne(command: CommandArgs, info: CommandInfo): Promise<unknown> {
    // One node, no slot routing: Redis itself explains what is wrong.
    if (info.malformed) return rawCall(this.#upstream.masters()[0] ?? this.#upstream.client, command)
    if (info.blocking) return this.#blocking.run(command, info)
    if (this.#upstream.mode === 'cluster') {
      const handler = clusterHandler(command, info)
      if (handler) return handler(this.#upstream, batchedCall)
    }
    return batchedCall(this.#upstream.client, command)
  }

  /**
   * Runs every command of a pipeline at once; never rejects: each outcome is kept in order.
   * Ordinary commands go out as one explicit ioredis pipeline per group of nodes (in a cluster,
   * grouped by the nodes serving their slot, as ioredis routes a pipeline): one
   * promise per group instead of several per command, which measured as a third less garbage.
   * Commands that need their own handling (malformed, split, fanned out, keyless) run alone.
   *
   * Each node still gets its commands in the pipeline's order, as one Redis would run them: a
   * command run alone may touch any node (a split DEL, a KEYS on every master), so the groups
   * gathered before it are sent first, and the ones after it are gathered anew. Every write here
   * is issued synchronously (ioredis writes a pipeline in `exec()`, a command in `sendCommand`)
   * onto the node's one connection, which Redis answers in order. Sending the alone commands
   * first, as this once did, ran `[SET a, DEL a b]` as DEL then SET: `a` survived its delete.
   * Blocking commands run on connections of their own, so they keep no order with the rest.
   */
  async pipeline(commands: CommandArgs[], infos: CommandInfo[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = new Array(commands.length)
    const groups = new Map<string, number[]>()
    const running: Array<Promise<void>> = []
    const sendGroups = () => {
      for (const members of groups.values()) running.push(this.#runGroup(commands, infos, members, outcomes))
      groups.clear() // each group's members went with it
    }
    const cluster = this.#upstream.mode === 'cluster' ? (this.#upstream.client as Cluster) : undefined
    commands.forEach((command, i) => {
      const info = infos[i]!
      const special =
        info.malformed ||
        info.blocking ||
        (cluster !== undefined && clusterHandler(command, info) !== undefined)
      const group = special ? undefined : groupOf(cluster, command, info)
      if (group === undefined) {
        if (groups.size > 0) sendGroups()
        running.push(
          settle(this.#runOne(command, info)).then((o) => {
            outcomes[i] = o
          }),
        )
        return
      }
      const members = groups.get(group)
      if (members) members.push(i)
      else groups.set(group, [i])
    })
    sendGroups()
    await Promise.all(running)
    if (this.#acks) await this.#confirm(commands, infos, outcomes)
    return outcomes
  }

  /** WAIT mode: the writes that succeeded must be on enough replicas before the answer goes out. */
  async #confirm(commands: CommandArgs[], infos: CommandInfo[], outcomes: Outcome[]): Promise<void> {
    if (!this.#acks) return
    const writes = commands
      .map((command, i) => ({ command, info: infos[i]! }))
      .filter(({ info }, i) => outcomes[i]?.ok && isWrite(info))
    if (writes.length > 0) await this.#acks.confirm(writes)
  }

  async #runGroup(
    commands: CommandArgs[],
    infos: CommandInfo[],
    members: number[],
    outcomes: Outcome[],
  ): Promise<void> {
    const batch = this.#upstream.client.pipeline()
    for (const i of members) void rawCall(batch as unknown as CommandTarget, commands[i]!)
    let results: Array<[Error | null, unknown]> | null
    try {
      results = await batch.exec()
    } catch {
      // The topology changed between grouping and sending (a failover, a reshard): fall back to
      // one command at a time, each routed and retried on its own.
      results = null
    }
    if (results === null) {
      await Promise.all(
        members.map(async (i) => (outcomes[i] = await settle(this.#runOne(commands[i]!, infos[i]!)))),
      )
      return
    }
    members.forEach((i, j) => {
      const [error, value] = results[j] ?? [new Error('no reply'), null]
      outcomes[i] = error ? { ok: false, error } : { ok: true, value }
    })
  }

  /**
   * Runs commands as one MULTI/EXEC transaction.
   * @throws {ProxyHttpError} 400 `CROSSSLOT` when the keys span slots (in a cluster), or 400
   *   `EXECABORT ...` when Redis discards the transaction as a whole
   */
  async transaction(commands: CommandArgs[], infos: CommandInfo[]): Promise<Outcome[]> {
    const bad = infos.findIndex((info) => info.malformed)
    if (bad >= 0) {
      // Redis discards a transaction holding a malformed command, and so does the proxy, before
      // anything runs (ioredis cannot even route such a MULTI: it throws computing its slot).
      throw new ProxyHttpError(
        400,
        `EXECABORT Transaction discarded because of previous errors. (ERR wrong number of arguments or keys for '${infos[bad]!.name}' command)`,
      )
    }
    if (this.#upstream.mode === 'cluster') {
      const slots = new Set<number>()
      commands.forEach((command, i) => {
        for (const index of infos[i]!.keyIndexes) slots.add(calculateSlot(command[index + 1]!))
      })
      // Redis's own text for the same refusal, so clients can match on the prefix.
      if (slots.size > 1)
        throw new ProxyHttpError(400, "CROSSSLOT Keys in request don't hash to the same slot")
    }
    const multi = this.#upstream.client.multi()
    // Queued on the MULTI pipeline; the replies come back through exec().
    for (const command of commands) void rawCall(multi as unknown as CommandTarget, command)
    let results: Array<[Error | null, unknown]> | null
    try {
      results = await multi.exec()
    } catch (error) {
      const err = error as Error & { previousErrors?: Error[] }
      if (isRedisReply(err)) {
        const detail = err.previousErrors?.map((e) => e.message).join('; ')
        throw new ProxyHttpError(400, detail ? `${err.message} (${detail})` : err.message, { cause: err })
      }
      throw err
    }
    if (results === null) throw new ProxyHttpError(400, 'EXECABORT Transaction discarded')
    const outcomes: Outcome[] = results.map(([error, value]) =>
      error ? { ok: false, error } : { ok: true, value },
    )
    if (this.#acks) await this.#confirm(commands, infos, outcomes)
    return outcomes
  }
}

/** The group of nodes a command goes to ('' for a standalone server), or undefined when unknown. */
function groupOf(cluster: Cluster | undefined, command: CommandArgs, info: CommandInfo): string | undefined {
  if (!cluster) return ''
  const first = info.keyIndexes[0]
  // Keyless commands (PING, EVAL with no keys, PUBLISH) can run on any node: let ioredis pick.
  if (first === undefined) return undefined
  return cluster.slots[calculateSlot(command[first + 1]!)]?.join(',')
}

async function settle(promise: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await promise }
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) }
  }
}
