/**
 * Flag values and the names in their errors, for the CLI's commands. `startProxy` and
 * `startCluster` name their options as a program passes them (`maxBodyBytes`, `basePort`); a
 * user of the command typed a flag (`--max-body`, `--base-port`) or set its environment variable.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { InvalidOptionError } from '../errors.js'
import { describeValue, nearMiss } from '../option-names.js'

/**
 * A flag's integer value (undefined when not given).
 * @throws {InvalidOptionError} naming the flag, for anything but an integer
 */
export function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n))
    throw new InvalidOptionError(flag, `must be an integer, got ${describeValue(value)}`)
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

/**
 * `parseArgs` from node:util, with the flag meant when one is unknown: `Unknown option '--tokne'
 * (did you mean --token?)`. The error keeps parseArgs's code, so the command prints its usage line.
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const unknown = /^Unknown option '--([^'=]+)'/.exec((error as Error).message)?.[1]
    const near = unknown && nearMiss(unknown, Object.keys(config.options ?? {}))
    if (code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || !near) throw error
    throw Object.assign(
      new Error(`Unknown option '--${unknown}' (did you mean --${near}?)`, { cause: error }),
      {
        code,
      },
    )
  }
}

/**
 * The line for a word that is not one of `expected` (a command, an action), with the one meant.
 * @param what what the word was taken for ("command", "cluster action")
 */
export function unknownWord(what: string, word: string, expected: readonly string[]): string {
  const near = nearMiss(word, expected)
  return `unknown ${what} ${JSON.stringify(word)}${near ? ` (did you mean ${near}?)` : ''}; expected ${expected.join(', ')}`
}
