/**
 * Every subpath of package.json#exports loads as a user's project loads it: `import` from an ES
 * module, and `require` from a CommonJS one (Node 20.19+ and 22.12+ load an ES module by
 * `require`; many Lambda projects and TypeScript setups still compile to CommonJS). With an
 * `import`-only exports map, `require('tiercache')` failed with "No "exports" main defined",
 * which reads as a broken package rather than a missing condition.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  exports: Record<string, unknown>
}
/** `tiercache`, `tiercache/hono`...: every code subpath (not `./package.json`). */
const specifiers = Object.keys(pkg.exports)
  .filter((subpath) => subpath !== './package.json')
  .map((subpath) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`))

/** Node 20.19+ and 22.12+ load ES modules through `require` without a flag. */
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
const requireLoadsEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19)

let project: string

beforeAll(() => {
  // A user's project with tiercache installed (a link to this checkout, built by `npm test`).
  project = mkdtempSync(join(tmpdir(), 'tiercache-exports-'))
  mkdirSync(join(project, 'node_modules'))
  symlinkSync(root, join(project, 'node_modules', pkg.name), 'dir')
})

afterAll(() => rmSync(project, { recursive: true, force: true }))

/** Loads every specifier in one process and prints, per specifier, how many names it exports. */
async function load(file: string, source: string): Promise<Record<string, number>> {
  writeFileSync(join(project, file), source)
  const { stdout } = await run(process.execPath, [file], { cwd: project })
  return JSON.parse(stdout) as Record<string, number>
}

describe('package exports', () => {
  it('every subpath loads with import from an ES module', async () => {
    const counts = await load(
      'load.mjs',
      `const counts = {}
for (const s of ${JSON.stringify(specifiers)}) counts[s] = Object.keys(await import(s)).length
console.log(JSON.stringify(counts))`,
    )
    for (const s of specifiers) expect(counts[s], s).toBeGreaterThan(0)
  })

  it.runIf(requireLoadsEsm)(
    'every subpath loads with require from a CommonJS module, and works',
    async () => {
      const counts = await load(
        'load.cjs',
        `const counts = {}
for (const s of ${JSON.stringify(specifiers)}) counts[s] = Object.keys(require(s)).length
const { createCache } = require('${pkg.name}')
const cache = createCache()
cache.getOrLoad('k', async () => 42).then((v) => {
  counts.loaded = v
  console.log(JSON.stringify(counts))
})`,
      )
      for (const s of specifiers) expect(counts[s], s).toBeGreaterThan(0)
      expect(counts.loaded).toBe(42)
    },
  )

  it('Node loads the bundled build, and its subpaths share one copy of what they share', async () => {
    // Two copies of a module (one per subpath) would make an error thrown by one subpath fail
    // `instanceof` against the class another exports, and the response cache would not find the
    // internals of a cache made by `tiercache` (it reads the cache's clock from them).
    const seen = await load(
      'shared.mjs',
      `import { createCache, InvalidOptionError } from '${pkg.name}'
import { resolveResponseCacheOptions } from '${pkg.name}/http'
import { createQueue } from '${pkg.name}/queue'
const resolved = Object.fromEntries(${JSON.stringify(specifiers)}.map((s) => [s, import.meta.resolve(s)]))
let sameClass = false
try { createQueue({ redis: { url: 'http://127.0.0.1:1', token: 't' }, name: '' }) } catch (e) { sameClass = e instanceof InvalidOptionError }
const cache = createCache({ clock: { now: () => 1234 } })
console.log(JSON.stringify({ resolved, sameClass, now: resolveResponseCacheOptions({ cache }).now() }))`,
    )
    const resolved = seen.resolved as unknown as Record<string, string>
    for (const s of specifiers) expect(resolved[s], s).toMatch(/\/dist\/node\/[a-z]+\.js$/)
    expect(seen.sameClass).toBe(true)
    expect(seen.now).toBe(1234)
  })
})
