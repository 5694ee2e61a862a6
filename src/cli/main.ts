#!/usr/bin/env node
/**
 * The `tiercache` command: `tiercache proxy ...` and `tiercache cluster start|stop|status ...`.
 */
import { readFileSync } from 'node:fs'
import { TiercacheError } from '../errors.js'
import { runClusterCommand } from './cluster-command.js'
import { unknownWord } from './flags.js'
import { runProxyCommand } from './proxy-command.js'
import { isWorker } from './proxy-workers.js'

const HELP = `Usage: tiercache <command> [options]

Commands:
  proxy      the Upstash-REST-compatible HTTP proxy in front of Redis (tiercache proxy --help)
  cluster    a local Redis Cluster for development and tests (tiercache cluster --help)

  tiercache --version   prints the version
`

/** The package's version: package.json sits two levels up from both src/cli and dist/cli. */
function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  return String(manifest.version)
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'proxy':
      return runProxyCommand(rest)
    case 'cluster':
      return runClusterCommand(rest)
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(HELP)
      return command === undefined ? 2 : 0
    case '-v':
    case '--version':
      process.stdout.write(`${version()}\n`)
      return 0
    default:
      process.stderr.write(`${unknownWord('command', command, ['proxy', 'cluster'])}\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // The proxy keeps the process alive by its server; other commands end here.
    if (code !== -1) process.exitCode = code
  },
  (error: unknown) => {
    // Expected failures (a bad option or flag, a cluster timeout) print their message alone;
    // anything else is a bug and prints its stack.
    const code = (error as { code?: unknown })?.code
    const usage = typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
    const expected = error instanceof TiercacheError || usage
    process.stderr.write(
      `tiercache: ${expected ? (error as Error).message : ((error as Error)?.stack ?? String(error))}\n`,
    )
    if (usage) process.stderr.write('run `tiercache <command> --help` for the flags\n')
    process.exitCode = usage ? 2 : 1
    // A proxy worker's channel to its primary would keep it alive, failed, forever.
    if (isWorker()) process.exit()
  },
)
