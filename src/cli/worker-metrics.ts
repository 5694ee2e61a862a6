/**
 * `/metrics` under `tiercache proxy --workers N`: whichever worker a scrape reaches answers with
 * the sum over every worker.
 *
 * node:cluster hands each connection to one worker, so a worker answering with its own counters
 * gave alternating values from one scrape to the next (10, 16, 10, 16 for one counter): Prometheus
 * reads every drop as a counter reset, and `rate()` over it is garbage. prom-client's
 * `AggregatorRegistry` already gathers the workers' registries in the primary over the cluster's
 * IPC channel and sums them (each metric by its own aggregator: histograms bucket by bucket,
 * version info taken once); a worker serving a scrape asks the primary for that sum.
 */
import cluster from 'node:cluster'
import { AggregatorRegistry, type Registry } from 'prom-client'

const REQUEST = 'tiercache:metrics-request'
const REPLY = 'tiercache:metrics-reply'

/** How long a worker waits for the primary's sum (prom-client gives up on a silent worker at 5 s). */
const DEFAULT_TIMEOUT_MS = 6_000

interface MetricsRequest {
  type: typeof REQUEST
  id: number
}

interface MetricsReply {
  type: typeof REPLY
  id: number
  text?: string
  error?: string
}

/**
 * In the primary: answers each worker's request for the whole cluster's metrics with the sum of
 * every connected worker's registry (prom-client's text format).
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry()
  cluster.on('message', (worker, message: Partial<MetricsRequest> | null) => {
    if (message?.type !== REQUEST || typeof message.id !== 'number') return
    const id = message.id
    const reply = (answer: Omit<MetricsReply, 'type' | 'id'>) => {
      // A worker that exited meanwhile has nobody left to answer.
      if (worker.isConnected())
        worker.send({ type: REPLY, id, ...answer } satisfies MetricsReply, undefined, () => {})
    }
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
    )
  })
}

/**
 * In a worker: hands `registry` to the primary when it gathers, and returns what `/metrics` calls
 * for its text: the primary's sum over every worker.
 * @param timeoutMs how long to wait for the primary before rejecting
 */
export function clusterMetricsReader(
  registry: Registry,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): () => Promise<string> {
  const send = process.send?.bind(process)
  if (!send) throw new Error('clusterMetricsReader runs in a cluster worker (this process has no primary)')
  AggregatorRegistry.setRegistries([registry])
  // Its constructor is what makes this worker answer the primary's requests for its registry.
  void new AggregatorRegistry()
  const waiting = new Map<
    number,
    { resolve: (text: string) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >()
  let nextId = 0
  process.on('message', (message: Partial<MetricsReply> | null) => {
    if (message?.type !== REPLY || typeof message.id !== 'number') return
    const request = waiting.get(message.id)
    if (!request) return
    waiting.delete(message.id)
    clearTimeout(request.timer)
    if (typeof message.text === 'string') request.resolve(message.text)
    else request.reject(new Error(`the primary could not gather the workers' metrics: ${message.error}`))
  })
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`the primary did not send the workers' metrics within ${timeoutMs} ms`))
      }, timeoutMs)
      waiting.set(id, { resolve, reject, timer })
      send({ type: REQUEST, id } satisfies MetricsRequest)
    })
}
