/**
 * The guard's in-process filter: checks per second (every L1 miss asks it), false-positive rate at
 * the design load, and memory against the optimum m = −n·ln p / (ln 2)², with the `bloom-filters`
 * package measured in the same run for reference.
 *
 *   npm run bench:guard
 */
import { cpus } from 'node:os'
import bloomFilters from 'bloom-filters'
import { BloomFilter, bloomSize } from '../../src/guard/bloom-filter.js'

const N = 100_000
const P = 0.01
const ids = Array.from({ length: 1000 }, (_, i) => `user:${i * 7919}`)

function rate(check: (id: string) => boolean): number {
  for (const id of ids) check(id) // warm up
  let count = 0
  const started = performance.now()
  while (performance.now() - started < 1000) {
    for (const id of ids) check(id)
    count += ids.length
  }
  return count / ((performance.now() - started) / 1000)
}

const size = bloomSize(N, P)
const ours = new BloomFilter(size)
for (let i = 0; i < N; i++) ours.add(`user:${i}`)
const theirs = bloomFilters.BloomFilter.create(N, P)
for (let i = 0; i < N; i++) theirs.add(`user:${i}`)

let positives = 0
const trials = 1_000_000
for (let i = 0; i < trials; i++) if (ours.mightContain(`absent:${i}`)) positives++
const optimum = (-N * Math.log(P)) / Math.LN2 ** 2
const oursRate = rate((id) => ours.mightContain(id))
const theirsRate = rate((id) => theirs.has(id))

console.log(
  `\nguard filter: ${N.toLocaleString('en-US')} ids at p = ${P}; ${cpus().length} cores, node ${process.version}\n`,
)
console.log('| measure | tiercache guard | bloom-filters 3 |')
console.log('| --- | ---: | ---: |')
console.log(
  `| checks per second | ${Math.round(oursRate).toLocaleString('en-US')} | ${Math.round(theirsRate).toLocaleString('en-US')} |`,
)
console.log(
  `| false-positive rate at design load (${trials.toLocaleString('en-US')} absent ids) | ${(positives / trials).toFixed(5)} | |`,
)
console.log(
  `| bits (optimum ${Math.ceil(optimum).toLocaleString('en-US')}) | ${size.bits.toLocaleString('en-US')} (${((size.bits / optimum - 1) * 100).toFixed(2)} % over) | |`,
)
console.log(
  `\naims: ≥ 1,000,000 checks/s: ${oursRate >= 1e6 ? 'met' : 'NOT met'}; false positives within 10 % of p: ` +
    `${Math.abs(positives / trials - P) / P <= 0.1 ? 'met' : 'NOT met'}; memory within 5 % of the optimum: ${size.bits / optimum <= 1.05 ? 'met' : 'NOT met'}`,
)
