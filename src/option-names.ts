/**
 * Refuses option names a function does not know. An options object is mostly defaults, so a
 * misspelt name (`maxstaleness: 0`) would otherwise leave the default in force without a word.
 */
import { InvalidOptionError } from './errors.js'

/**
 * Throws unless `options` is an object (not an array) whose own properties are all in `known`;
 * an unknown name comes with the known name it differs from only in case.
 * @param group the options' path for errors (`l1` makes `l1.maxsize`); '' at the top level
 * @throws {InvalidOptionError} naming the unknown option, or the group that is not an object
 */
export function checkOptionNames(options: unknown, known: readonly string[], group = ''): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError(group || 'options', `must be an object, got ${describeValue(options)}`)
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const near = known.find((k) => k.toLowerCase() === name.toLowerCase())
    throw new InvalidOptionError(
      group ? `${group}.${name}` : name,
      `is not an option${near ? ` (did you mean ${near}?)` : ''}; known: ${known.join(', ')}`,
    )
  }
}

/** A value as an error message shows it: strings quoted, numbers and the like as they print, else their kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || Array.isArray(value)) return value === null ? 'null' : 'an array'
  return ['number', 'boolean', 'undefined', 'bigint'].includes(typeof value) ? String(value) : typeof value
}
