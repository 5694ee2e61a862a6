/**
 * WAIT mode (`--min-replica-acks N`): a write is answered only once at least N replicas have it,
 * through Redis `WAIT` on the connection the write went out on. Redis replicates asynchronously:
 * without this, a write acknowledged by a master that dies before its replica copied it is lost
 * in the failover. With it, such a write is answered 503 instead (it is on the master, and may or
 * may not survive), so a client never counts on a write that could vanish.
 */
import calculateSlot from 'cluster-key-slot'
import type { Cluster, Redis } from 'ioredis'
import type { CommandArgs, CommandInfo } from './command-table.js'
import { ProxyHttpError } from './http-error.js'
import type { Upstream } from './upstream.js'

/** Whether a command writes (and so waits for replicas in WAIT mode). */
export function isWrite(info: CommandInfo): boolean {
  return info.known && !info.readOnly
}

/** Confirms writes with WAIT on the nodes they went to. */
export class ReplicaAcks {
  readonly #upstream: Upstream
  readonly #min: number
  readonly #timeoutMs: number

  constructor(upstream: Upstream, min: number, timeoutMs: number) {
    this.#upstream = upstream
    this.#min = min
    this.#timeoutMs = timeoutMs
  }

  /**
   * Waits until every node that received one of these writes has `min` replicas acknowledging it.
   * Keyless writes in a cluster (FLUSHALL fans out) are not confirmed.
   * @throws {ProxyHttpError} 503 `NOREPLICAS` when fewer replicas acknowledged within the timeout
   */
  async confirm(writes: Array<{ command: CommandArgs; info: CommandInfo }>): Promise<void> {
    const nodes = new Set<Redis>()
    for (const { command, info } of writes) {
      const node = this.#nodeFor(command, info)
      if (node) nodes.add(node)
    }
    const acks = await Promise.all(
      [...nodes].map(async (node) =>
        Number(await node.call('WAIT', String(this.#min), String(this.#timeoutMs))),
      ),
    )
    const least = Math.min(...acks)
    if (acks.length > 0 && least < this.#min) {
      throw new ProxyHttpError(
        503,
        `NOREPLICAS the write reached the master but ${least} of the ${this.#min} replicas required acknowledged it within ${this.#timeoutMs} ms: it may not survive a failover`,
      )
    }
  }

  /** The connection a command went out on: the shared client, or in a cluster its slot's master. */
  #nodeFor(command: CommandArgs, info: CommandInfo): Redis | undefined {
    if (this.#upstream.mode !== 'cluster') return this.#upstream.client as Redis
    const first = info.keyIndexes[0]
    if (first === undefined) return undefined
    const cluster = this.#upstream.client as Cluster
    const address = cluster.slots[calculateSlot(command[first + 1]!)]?.[0]
    if (!address) return undefined
    // The cluster client's own connection to that master: WAIT counts the writes sent on it.
    return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === address)
  }
}
