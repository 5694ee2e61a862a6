/**
 * Parsing of the text replies `CLUSTER NODES` and `INFO` / `CLUSTER INFO` give.
 */

/** One line of `CLUSTER NODES`. */
export interface ClusterNodeLine {
  /** The node's 40-character id. */
  id: string
  host: string
  port: number
  role: 'master' | 'replica'
  /** Id of the master this node replicates, for replicas. */
  masterId: string | undefined
  /** Whether the node is flagged `fail` or `fail?` by the node that answered. */
  failing: boolean
  /** `connected` or `disconnected`, as seen from the node that answered. */
  link: string
  /** Inclusive slot ranges this node serves. */
  slots: Array<[number, number]>
}

/**
 * Parses the reply of `CLUSTER NODES`.
 * Lines look like `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`.
 */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const nodes: ClusterNodeLine[] = []
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ')
    if (fields.length < 8) continue
    const [id, address, flags, master, , , , link, ...slotFields] = fields as [
      string,
      string,
      string,
      string,
      ...string[],
    ]
    const hostPort = address.split('@')[0] ?? ''
    const colon = hostPort.lastIndexOf(':')
    const flagList = flags.split(',')
    const slots: Array<[number, number]> = []
    for (const field of slotFields) {
      // Importing/migrating markers look like `[slot->-id]`; they are not served slots.
      if (field.startsWith('[')) continue
      const [start, end] = field.split('-')
      slots.push([Number(start), Number(end ?? start)])
    }
    nodes.push({
      id,
      host: hostPort.slice(0, colon),
      port: Number(hostPort.slice(colon + 1)),
      role: flagList.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      failing: flagList.includes('fail') || flagList.includes('fail?'),
      link: link ?? 'disconnected',
      slots,
    })
  }
  return nodes
}

/** Parses `INFO` / `CLUSTER INFO` text (`key:value` lines; `#` sections ignored). */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split('\r\n').join('\n').split('\n')) {
    if (!line || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

/** Formats slot ranges as `0-5460,10923-16383`. */
export function formatSlots(slots: Array<[number, number]>): string {
  return slots.map(([start, end]) => (start === end ? `${start}` : `${start}-${end}`)).join(',')
}
