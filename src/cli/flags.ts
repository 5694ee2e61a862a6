/**
 * Flag values and the names in their errors, for the CLI's commands. `startProxy` and
 * `startCluster` name their options as a program passes them (`maxBodyBytes`, `basePort`); a
 * user of the command typed a flag (`--max-body`, `--base-port`) or set its environment variable.
 */
import { InvalidOptionError } from '../errors.js'

/**
 * A flag's integer value (undefined when not given).
 * @throws {InvalidOptionError} naming the flag, for anything but an integer
 */
export function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n))
    throw new InvalidOptionError(flag, `must be an integer, got ${JSON.stringify(value)}`)
  return n
}

/**
 * The error renamed after what set the option, or as it was when `nameOf` does not know it.
 * @param nameOf the flag or variable for an option's name, or undefined
 */
export function namedForCommandLine(error: unknown, nameOf: (option: string) => string | undefined): unknown {
  if (!(error instanceof InvalidOptionError)) return error
  const name = nameOf(error.option)
  return name === undefined || name === error.option
    ? error
    : new InvalidOptionError(name, error.problem, { cause: error })
}
