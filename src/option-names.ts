/**
 * Refuses option names a function does not know. An options object is mostly defaults, so a
 * misspelt name (`maxstaleness: 0`) would otherwise leave the default in force without a word.
 */
import { InvalidOptionError } from './errors.js'

/**
 * Throws unless `options` is an object (not an array) whose own properties are all in `known`;
 * an unknown name comes with the known name it most likely meant (see `nearMiss`).
 * @param group the options' path for errors (`l1` makes `l1.maxsize`); '' at the top level
 * @throws {InvalidOptionError} naming the unknown option, or the group that is not an object
 */
export function checkOptionNames(options: unknown, known: readonly string[], group = ''): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError(group || 'options', `must be an object, got ${describeValue(options)}`)
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const near = nearMiss(name, known)
    throw new InvalidOptionError(
      group ? `${group}.${name}` : name,
      `is not an option${near ? ` (did you mean ${near}?)` : ''}; known: ${known.join(', ')}`,
    )
  }
}

/**
 * The known name an unknown one was probably meant to be: the same but for case, else the closest
 * within one edit (names of up to 4 characters) or two (longer ones), when only one is that close.
 * Written here rather than taken from a library: it runs only to word an error, in code that edge
 * bundles carry.
 */
export function nearMiss(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase()
  const sameButCase = known.find((k) => k.toLowerCase() === lower)
  if (sameButCase !== undefined) return sameButCase
  const limit = name.length <= 4 ? 1 : 2
  let best: string | undefined
  let bestDistance = limit + 1
  let ties = 0
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase())
    if (distance < bestDistance) [best, bestDistance, ties] = [candidate, distance, 0]
    else if (distance === bestDistance) ties++
  }
  return ties === 0 ? best : undefined
}

/** Levenshtein distance (insertions, deletions, substitutions), one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)
      row.push(Math.min(substitution, (previous[j] as number) + 1, (row[j - 1] as number) + 1))
    }
    previous = row
  }
  return previous[b.length] as number
}

/**
 * Throws unless `value` is a function (a loader, a handler, a hook).
 * @throws {InvalidOptionError} naming the option and what was given instead
 */
export function checkFunction(value: unknown, option: string): void {
  if (typeof value !== 'function')
    throw new InvalidOptionError(option, `must be a function, got ${describeValue(value)}`)
}

/** A value as an error message shows it: strings quoted, numbers and the like as they print, else their kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || Array.isArray(value)) return value === null ? 'null' : 'an array'
  // A BigInt as its literal: `10` would read as the number a caller meant to pass.
  if (typeof value === 'bigint') return `${value}n`
  return ['number', 'boolean', 'undefined'].includes(typeof value) ? String(value) : typeof value
}
