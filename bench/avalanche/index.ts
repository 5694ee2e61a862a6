/**
 * Avalanche: 10,000 keys loaded at once with a 60 s TTL; when do they expire? Without jitter they
 * all expire in the same second (and their loaders would all run then); with the default jitter
 * (±10 %) they spread over 12 s. Read from the entries' fresh-until times in tier 2 (the embedded
 * store), with an injected clock (nothing waits) and seeded randomness (the jitter: the same figures
 * and the same docs/avalanche.svg every run, so a run leaves the committed plot as it is).
 *
 *   npm run bench:avalanche
 */
import { writeFileSync } from 'node:fs'
import { decodeEnvelope } from '../../src/cache/envelope.js'
import { createCache, MemoryStore } from '../../src/index.js'
import { seededRandom } from '../../test/helpers/clock.js'

const KEYS = 10_000
const TTL_S = 60
const START = 1_800_000_000_000

async function expiries(jitter: number): Promise<number[]> {
  let now = START
  const store = new MemoryStore(() => now)
  const cache = createCache({
    redis: store,
    clock: { now: () => now },
    random: seededRandom(),
    jitter,
    ttl: `${TTL_S}s`,
    maxStaleness: Number.POSITIVE_INFINITY,
  })
  const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`)
  await cache.getMany(keys, async (missing) => missing.map((k) => ({ k })))
  await cache.settled()
  now = START
  const texts = await store.getMany(keys.map((k) => `tc:${k}`))
  const perSecond = new Map<number, number>()
  for (const text of texts) {
    const second = Math.floor((decodeEnvelope(text)!.f - START) / 1000)
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1)
  }
  const out = new Array(TTL_S * 2).fill(0)
  for (const [second, n] of perSecond) out[second] = n
  return out
}

function svg(series: Array<{ label: string; color: string; values: number[] }>): string {
  const width = 720
  const height = 320
  const pad = { left: 60, right: 20, top: 30, bottom: 40 }
  const from = 45
  const to = 75
  const max = Math.max(...series.flatMap((s) => s.values.slice(from, to + 1)))
  const x = (s: number) => pad.left + ((s - from) / (to - from)) * (width - pad.left - pad.right)
  const y = (v: number) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom)
  const barWidth = ((width - pad.left - pad.right) / (to - from)) * 0.4
  const bars = series
    .map((s, i) =>
      s.values
        .slice(from, to + 1)
        .map((v, j) =>
          v === 0
            ? ''
            : `<rect x="${(x(from + j) + i * barWidth - barWidth).toFixed(1)}" y="${y(v).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(height - pad.bottom - y(v)).toFixed(1)}" fill="${s.color}"><title>${s.label}: ${v} keys in second ${from + j}</title></rect>`,
        )
        .join(''),
    )
    .join('\n')
  const ticks = Array.from({ length: 7 }, (_, i) => from + i * 5)
    .map(
      (s) =>
        `<text x="${x(s).toFixed(1)}" y="${height - pad.bottom + 18}" font-size="12" text-anchor="middle">${s} s</text>`,
    )
    .join('')
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${pad.left - 8}" y="${(y(max * f) + 4).toFixed(1)}" font-size="12" text-anchor="end">${Math.round(max * f)}</text>`,
    )
    .join('')
  const legend = series
    .map(
      (s, i) =>
        `<rect x="${pad.left + 10 + i * 230}" y="8" width="12" height="12" fill="${s.color}"/><text x="${pad.left + 28 + i * 230}" y="18" font-size="12">${s.label}</text>`,
    )
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${legend}
<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="black"/>
<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${height - pad.bottom}" stroke="black"/>
${ticks}${yTicks}
<text x="${width / 2}" y="${height - 6}" font-size="12" text-anchor="middle">seconds after a bulk load of ${KEYS.toLocaleString('en-US')} keys, ttl ${TTL_S} s: keys expiring in each second</text>
${bars}
</svg>
`
}

async function main() {
  const without = await expiries(0)
  const withJitter = await expiries(0.1)
  const summary = (values: number[]) => {
    const seconds = values.map((v, s) => [s, v] as const).filter(([, v]) => v > 0)
    return { peak: Math.max(...values), first: seconds[0]![0], last: seconds.at(-1)![0] }
  }
  const a = summary(without)
  const b = summary(withJitter)
  writeFileSync(
    'docs/avalanche.svg',
    svg([
      { label: 'jitter 0 (all in one second)', color: '#c0392b', values: without },
      { label: 'jitter 0.1 (the default)', color: '#2980b9', values: withJitter },
    ]),
  )
  console.log(`\navalanche: ${KEYS.toLocaleString('en-US')} keys loaded at once, ttl ${TTL_S} s\n`)
  console.log('| jitter | most keys expiring in one second | expiries spread over | vs no jitter |')
  console.log('| --- | ---: | --- | ---: |')
  console.log(`| 0 | ${a.peak.toLocaleString('en-US')} | seconds ${a.first} to ${a.last} | 1.00× |`)
  console.log(
    `| 0.1 (default) | ${b.peak.toLocaleString('en-US')} | seconds ${b.first} to ${b.last} | ${(b.peak / a.peak).toFixed(3)}× |`,
  )
  console.log('\nplot: docs/avalanche.svg')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
