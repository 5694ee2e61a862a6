/**
 * Sends one command through ioredis and gets its raw reply (Buffers, so binary values survive),
 * in the RESP2 shape Redis gave it.
 *
 * Two ioredis 6 behaviours decide how:
 * - `callBuffer` loses the command name when auto-pipelining is on (only `call` gets its name
 *   put back), so it cannot be used on the shared client. The per-command `<name>Buffer`
 *   methods are auto-pipelined correctly and are used for every command ioredis knows.
 * - ioredis reshapes some replies by command name (HGETALL into an object; VSIM flattened).
 *   Those, and commands ioredis has no method for, are sent with `sendCommand` under the
 *   upper-case name, which no reply transformer is registered for.
 */
import { type Cluster, Command, type Redis } from 'ioredis'
import { type CommandArgs, isKnownCommand } from './command-table.js'

/** Commands whose replies ioredis reshapes by (lower-case) name. */
const RESHAPED = new Set(['hgetall', 'vsim'])

/**
 * `get` → `getBuffer`, for the names ioredis knows (a bounded set): one lookup instead of a new
 * concatenated string per command, which V8 flattens and hashes to find the method.
 */
const BUFFER_METHODS = new Map<string, string>()

function bufferMethod(lower: string): string {
  let method = BUFFER_METHODS.get(lower)
  if (method === undefined) {
    method = `${lower}Buffer`
    BUFFER_METHODS.set(lower, method)
  }
  return method
}

/** Anything that can send a command: the shared client, a node, a dedicated connection, a MULTI. */
export type CommandTarget = Pick<Redis, 'sendCommand'> | Pick<Cluster, 'sendCommand'>

/**
 * Sends a command and resolves with its raw reply; rejects with Redis's `ReplyError` or a
 * connection error. On a MULTI pipeline, the reply arrives through `exec()` instead.
 * @param options.pipelined false: bypass auto-pipelining (send this command alone)
 */
export function rawCall(
  target: CommandTarget,
  [name, ...args]: CommandArgs,
  { pipelined = true } = {},
): Promise<unknown> {
  const lower = name.toLowerCase()
  if (pipelined && !RESHAPED.has(lower) && isKnownCommand(lower)) {
    const method = (target as unknown as Record<string, unknown>)[bufferMethod(lower)]
    if (typeof method === 'function') return method.apply(target, args) as Promise<unknown>
  }
  return target.sendCommand(
    new Command(name.toUpperCase(), args, { replyEncoding: null }),
  ) as Promise<unknown>
}
