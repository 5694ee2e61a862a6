/**
 * Refuses option names a function does not know. An options object is mostly defaults, so a
 * misspelt name (`maxstaleness: 0`) would otherwise leave the default in force without a word.
 */
import { InvalidOptionError } from './errors.js'

/**
 * Throws for the first own property of `options` not in `known`, suggesting the known name it
 * differs from only in case.
 * @param group the options' path for errors (`l1` makes `l1.maxsize`); '' at the top level
 * @throws {InvalidOptionError} naming the unknown option
 */
export function checkOptionNames(options: object, known: readonly string[], group = ''): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const near = known.find((k) => k.toLowerCase() === name.toLowerCase())
    throw new InvalidOptionError(
      group ? `${group}.${name}` : name,
      `is not an option${near ? ` (did you mean ${near}?)` : ''}; known: ${known.join(', ')}`,
    )
  }
}
