/**
 * Turns request bodies and path-style URLs into commands, refusing anything malformed before a
 * single byte reaches Redis: a half-valid pipeline is refused whole.
 */
import type { CommandArgs } from './command-table.js'
import { ProxyHttpError } from './http-error.js'

/**
 * Validates one command: a non-empty array of strings, numbers and booleans. Numbers and booleans
 * become their string forms (`100` → `"100"`, `true` → `"true"`), as the Upstash server does.
 * @param index its place in a pipeline, for error messages (`command 3`); none for a single command
 */
export function toCommand(value: unknown, index?: number): CommandArgs {
  if (!Array.isArray(value))
    throw new ProxyHttpError(400, `ERR ${label(index)} must be a JSON array of strings, numbers or booleans`)
  if (value.length === 0) throw new ProxyHttpError(400, `ERR ${label(index)} is empty`)
  // The usual body is all strings: keep the parsed array (no copy per command in a pipeline).
  let allStrings = true
  for (let i = 0; i < value.length && allStrings; i++) allStrings = typeof value[i] === 'string'
  if (allStrings) {
    if (value[0] === '') throw new ProxyHttpError(400, `ERR ${label(index)}: the command name is empty`)
    return value as CommandArgs
  }
  const args: string[] = new Array(value.length)
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i]
    if (typeof item === 'string') args[i] = item
    else if (typeof item === 'number' || typeof item === 'boolean') args[i] = String(item)
    else
      throw new ProxyHttpError(
        400,
        `ERR ${label(index)}: argument ${i} must be a string, number or boolean, got ${describe(item)}`,
      )
  }
  if (args[0] === '') throw new ProxyHttpError(400, `ERR ${label(index)}: the command name is empty`)
  return args as CommandArgs
}

/** How error messages name a command; built only when one is refused (not for every command). */
function label(index: number | undefined): string {
  return index === undefined ? 'command' : `command ${index}`
}

/**
 * Validates a pipeline or transaction body: 1 to `maxCommands` commands.
 * @throws {ProxyHttpError} 400 naming the first bad command
 */
export function toCommandList(value: unknown, maxCommands: number): CommandArgs[] {
  if (!Array.isArray(value)) throw new ProxyHttpError(400, 'ERR the body must be a JSON array of commands')
  if (value.length === 0) throw new ProxyHttpError(400, 'ERR the body holds no command')
  if (value.length > maxCommands) {
    throw new ProxyHttpError(
      400,
      `ERR too many commands in one request: ${value.length} (at most ${maxCommands})`,
    )
  }
  return value.map((item, i) => toCommand(item, i))
}

/**
 * Parses a JSON body.
 * @throws {ProxyHttpError} 400 when the text is not JSON
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new ProxyHttpError(400, `ERR the body is not valid JSON: ${(error as Error).message}`)
  }
}

/**
 * Builds a command from a path-style request: `/<cmd>/<arg1>/.../<argN>`, the body (when there
 * is one) as the last argument, and each query parameter other than `_token` as `NAME VALUE`.
 * @param segments the path split on `/`, still percent-encoded
 */
export function commandFromPath(
  segments: string[],
  query: URLSearchParams,
  body: string | undefined,
): CommandArgs {
  const args: string[] = []
  for (const segment of segments) {
    if (!segment.includes('%')) {
      args.push(segment) // nothing to decode: no copy
      continue
    }
    try {
      args.push(decodeURIComponent(segment))
    } catch {
      throw new ProxyHttpError(
        400,
        `ERR malformed percent-encoding in path segment ${JSON.stringify(segment)}`,
      )
    }
  }
  if (body !== undefined && body !== '') args.push(body)
  if (query.size === 0) return toCommand(args)
  for (const [name, value] of query) {
    if (name === '_token') continue
    // `?NX` is a bare flag; `?EX=100` is a flag with a value.
    if (value === '') args.push(name)
    else args.push(name, value)
  }
  return toCommand(args)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
