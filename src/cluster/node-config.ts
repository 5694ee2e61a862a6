/**
 * Renders one cluster node's redis.conf from the shared templates in `examples/cluster/conf/`
 * (the same files the docker-compose example mounts), plus the per-node lines.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// src/cluster/ and dist/cluster/ are both two levels below the package root.
const TEMPLATE_DIR = fileURLToPath(new URL('../../examples/cluster/conf/', import.meta.url))

/** What differs from node to node. */
export interface NodeConfigInput {
  /** Interface to bind (loopback for local development). */
  host: string
  /** Client port; the cluster bus uses port + 10000. */
  port: number
  /** Absolute directory for this node's nodes.conf, pid file, log and data files. */
  dir: string
  /** Append the production persistence profile (AOF every second + RDB snapshots). */
  persist: boolean
}

/**
 * Builds the text of a node's redis.conf.
 * @returns the configuration, ready to be written to `<dir>/redis.conf`
 */
export function renderNodeConfig({ host, port, dir, persist }: NodeConfigInput): string {
  const parts = [readFileSync(`${TEMPLATE_DIR}cluster-node.conf`, 'utf8')]
  if (persist) parts.push(readFileSync(`${TEMPLATE_DIR}persist.conf`, 'utf8'))
  parts.push(
    [
      '# Per node (written by tiercache cluster start)',
      `port ${port}`,
      `bind ${host}`,
      `dir ${dir}`,
      // daemonize: `start` returns while the nodes keep running; the pid file is how `stop` finds them.
      'daemonize yes',
      `pidfile ${dir}/redis.pid`,
      `logfile ${dir}/redis.log`,
      '',
    ].join('\n'),
  )
  return parts.join('\n')
}
