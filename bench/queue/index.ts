/**
 * The Streams work queue through the proxy, against the same work done with `ioredis` directly
 * against the cluster, measured in the same run: messages per second added (batches of 100, 4
 * producers) and consumed (batches of 100, acknowledged). A 3+3 cluster and the proxy are started
 * on loopback.
 *
 *   npm run bench:queue            (20,000 messages per case)
 *   npm run bench:queue -- --quick (5,000)
 */
import { randomUUID } from 'node:crypto'
import { cpus } from 'node:os'
import { Cluster } from 'ioredis'
import { createQueue } from '../../src/queue/index.js'
import { startBenchCluster } from '../helpers/cluster-proxy.js'

const MESSAGES = process.argv.includes('--quick') ? 5000 : 20_000
const BATCH = 100
const PRODUCERS = 4

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await work()
  return MESSAGES / ((performance.now() - started) / 1000)
}

async function main() {
  const cluster = await startBenchCluster('queue')
  const { proxy, token } = cluster
  const options = { basePort: cluster.basePort }
  const redis = new Cluster([{ host: '127.0.0.1', port: options.basePort }], {
    redisOptions: { protocol: 2 },
  })
  const payload = { order: 12345, user: 'ada', items: ['console'], total: 499 }
  const batches = MESSAGES / BATCH
  try {
    // tiercache/queue through the proxy
    const name = `bench-${randomUUID()}`
    const queue = createQueue({ redis: { url: proxy.url, token }, name })
    const proxyAdd = await timed(async () => {
      let next = 0
      await Promise.all(
        Array.from({ length: PRODUCERS }, async () => {
          while (next < batches) {
            next++
            await queue.add(Array.from({ length: BATCH }, () => payload))
          }
        }),
      )
    })
    const proxyConsume = await timed(async () => {
      const summary = await queue.drain(() => {}, { group: 'g', count: BATCH, maxMs: 600_000 })
      if (summary.handled !== MESSAGES) throw new Error(`drained ${summary.handled} of ${MESSAGES}`)
    })
    // ioredis directly: pipelined XADDs per batch, XREADGROUP + XACK per batch
    const key = `bench-direct:{${randomUUID()}}`
    const text = JSON.stringify(payload)
    const directAdd = await timed(async () => {
      let next = 0
      await Promise.all(
        Array.from({ length: PRODUCERS }, async () => {
          while (next < batches) {
            next++
            const pipeline = redis.pipeline()
            for (let i = 0; i < BATCH; i++) pipeline.xadd(key, '*', 'p', text)
            await pipeline.exec()
          }
        }),
      )
    })
    await redis.xgroup('CREATE', key, 'g', '0')
    const directConsume = await timed(async () => {
      let done = 0
      while (done < MESSAGES) {
        const read = (await redis.xreadgroup(
          'GROUP',
          'g',
          'c',
          'COUNT',
          BATCH,
          'STREAMS',
          key,
          '>',
        )) as Array<[string, Array<[string, string[]]>]> | null
        const entries = read?.[0]?.[1] ?? []
        for (const [, fields] of entries) JSON.parse(fields[1]!)
        if (entries.length) await redis.xack(key, 'g', ...entries.map(([id]) => id))
        done += entries.length
      }
    })
    console.log(
      `\nqueue: ${MESSAGES.toLocaleString('en-US')} messages per case, batches of ${BATCH}, ${PRODUCERS} producers; 3+3 cluster on loopback; ${cpus().length} cores, node ${process.version}\n`,
    )
    console.log('| case | tiercache/queue via proxy, msg/s | ioredis direct, msg/s | ratio |')
    console.log('| --- | ---: | ---: | ---: |')
    const row = (label: string, a: number, b: number) =>
      console.log(
        `| ${label} | ${Math.round(a).toLocaleString('en-US')} | ${Math.round(b).toLocaleString('en-US')} | ${(a / b).toFixed(2)}× |`,
      )
    row('add', proxyAdd, directAdd)
    row('consume + ack', proxyConsume, directConsume)
  } finally {
    redis.disconnect()
    await cluster.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
