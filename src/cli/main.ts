#!/usr/bin/env node
/**
 * The `tiercache` command: `tiercache proxy ...` and `tiercache cluster start|stop|status ...`.
 */
import { TiercacheError } from '../errors.js'
import { runClusterCommand } from './cluster-command.js'
import { runProxyCommand } from './proxy-command.js'

const HELP = `Usage: tiercache <command> [options]

Commands:
  proxy      the Upstash-REST-compatible HTTP proxy in front of Redis (tiercache proxy --help)
  cluster    a local Redis Cluster for development and tests (tiercache cluster --help)
`

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
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // The proxy keeps the process alive by its server; other commands end here.
    if (code !== -1) process.exitCode = code
  },
  (error: unknown) => {
    // Expected failures (bad option, cluster timeout) print their message alone; others their stack.
    process.stderr.write(
      `tiercache: ${error instanceof TiercacheError ? error.message : ((error as Error)?.stack ?? String(error))}\n`,
    )
    process.exitCode = 1
  },
)
