/**
 * `tiercache cluster start|stop|status`: the local Redis Cluster for development and tests.
 */
import { clusterStatus, formatClusterStatus, startCluster, stopCluster } from '../cluster/launcher.js'
import { integerFlag, namedForCommandLine, parseFlags, unknownWord } from './flags.js'

/** Help text of `tiercache cluster`. */
export const CLUSTER_HELP = `Usage: tiercache cluster <start|stop|status> [options]

Runs a Redis Cluster on loopback from the local redis-server binary (no Docker).

  start    start the nodes, create the cluster if new, wait for cluster_state:ok
           and replica links, print nodes and slots (a running cluster is reported)
  stop     stop exactly the processes start launched (pid files)
  status   roles, slots and health of every node

Options:
  --base-port P   port of the first node; others follow, bus ports are +10000  (default 7000)
  --dir D         one folder per node: config, nodes.conf, pid, log, data   (default .tiercache/cluster)
  --masters N     number of masters, at least 3                              (default 3)
  --replicas N    replicas per master                                        (default 1)
  --host H        interface to bind                                          (default 127.0.0.1)
  --persist       production persistence: appendonly + everysec fsync + RDB snapshots
  --timeout T     how long start waits for a healthy cluster                 (default 60s)
  --clean         with stop: also delete the nodes' folders (state and data)
  -h, --help      this text
`

/** The flag of each option `startCluster` and its siblings name in their errors. */
const FLAG_OF_OPTION: Record<string, string> = {
  basePort: '--base-port',
  masters: '--masters',
  replicas: '--replicas',
  host: '--host',
  dir: '--dir',
  timeout: '--timeout',
}

/**
 * Runs `tiercache cluster ...`.
 * @param argv the arguments after `cluster`
 * @returns the process exit code
 */
export async function runClusterCommand(argv: string[]): Promise<number> {
  try {
    return await runAction(argv)
  } catch (error) {
    throw namedForCommandLine(error, (option) => FLAG_OF_OPTION[option])
  }
}

async function runAction(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    allowPositionals: true,
    options: {
      'base-port': { type: 'string' },
      dir: { type: 'string' },
      masters: { type: 'string' },
      replicas: { type: 'string' },
      host: { type: 'string' },
      persist: { type: 'boolean' },
      timeout: { type: 'string' },
      clean: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const action = positionals[0]
  if (values.help || !action) {
    process.stdout.write(CLUSTER_HELP)
    return values.help ? 0 : 2
  }
  const options = {
    basePort: integerFlag(values['base-port'], '--base-port'),
    dir: values.dir,
    masters: integerFlag(values.masters, '--masters'),
    replicas: integerFlag(values.replicas, '--replicas'),
    host: values.host,
    persist: values.persist,
    timeout: values.timeout as `${number}` | undefined,
    onProgress: (line: string) => process.stdout.write(`${line}\n`),
  }
  switch (action) {
    case 'start': {
      const status = await startCluster(options)
      if (status.alreadyRunning) process.stdout.write('the cluster is already running\n')
      process.stdout.write(`${formatClusterStatus(status)}\n`)
      return 0
    }
    case 'stop': {
      const stopped = await stopCluster({ ...options, clean: values.clean })
      process.stdout.write(
        stopped.length ? `stopped nodes on ports ${stopped.join(', ')}\n` : 'no running node found\n',
      )
      return 0
    }
    case 'status': {
      const status = await clusterStatus(options)
      process.stdout.write(`${formatClusterStatus(status)}\n`)
      return status.healthy ? 0 : 1
    }
    default:
      process.stderr.write(
        `${unknownWord('cluster action', action, ['start', 'stop', 'status'])}\n\n${CLUSTER_HELP}`,
      )
      return 2
  }
}
