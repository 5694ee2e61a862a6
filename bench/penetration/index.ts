/**
 * Penetration: 100,000 requests for ids that exist nowhere (as an attacker or a buggy client
 * sends), counting loader calls (queries reaching the source of truth) and tier-2 calls, without
 * a guard (null caching only) and with the Bloom-filter guard holding the 100,000 real ids. Two
 * patterns: 10,000 absent ids each asked 10 times, and 100,000 distinct absent ids. Tier 2 is the
 * embedded store with every call counted (counted, not timed).
 *
 *   npm run bench:penetration
 */

import { createGuard } from '../../src/guard/index.js'
import { createCache, MemoryStore } from '../../src/index.js'

const REQUESTS = 100_000
const REAL_IDS = 100_000

/** The embedded store, counting every call the cache makes to it. */
function countingStore() {
  const store = new MemoryStore()
  let calls = 0
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls++
        return value.apply(target, args)
      }
    },
  })
  return { store: counted, calls: () => calls }
}

async function run(pattern: 'repeated' | 'distinct', guarded: boolean) {
  const { store, calls } = countingStore()
  const cache = createCache({ redis: store, maxStaleness: Number.POSITIVE_INFINITY })
  let loads = 0
  const loader = async () => {
    loads++
    return null // nothing there
  }
  const guard = guarded ? createGuard(cache, 'items', { expected: REAL_IDS, fpRate: 0.01 }) : undefined
  if (guard) await guard.add(Array.from({ length: REAL_IDS }, (_, i) => `item:${i}`))
  const before = calls()
  for (let i = 0; i < REQUESTS; i++) {
    const absent = pattern === 'repeated' ? `ghost:${i % 10_000}` : `ghost:${i}`
    await cache.getOrLoad(absent, loader, guard ? { guard } : undefined)
  }
  await cache.settled()
  return { loads, tierTwo: calls() - before, guarded: cache.stats().guarded }
}

async function main() {
  console.log(
    `\npenetration: ${REQUESTS.toLocaleString('en-US')} requests for absent ids; guard sized for ${REAL_IDS.toLocaleString('en-US')} real ids at 1 % false positives\n`,
  )
  console.log('| pattern | guard | loader calls | tier-2 calls | answered by the guard |')
  console.log('| --- | --- | ---: | ---: | ---: |')
  for (const pattern of ['repeated', 'distinct'] as const) {
    for (const guarded of [false, true]) {
      const r = await run(pattern, guarded)
      const label = pattern === 'repeated' ? '10,000 absent ids × 10' : '100,000 distinct absent ids'
      console.log(
        `| ${label} | ${guarded ? 'yes' : 'no (null caching)'} | ${r.loads.toLocaleString('en-US')} | ${r.tierTwo.toLocaleString('en-US')} | ${r.guarded.toLocaleString('en-US')} |`,
      )
    }
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
