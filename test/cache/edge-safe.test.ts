/**
 * The cache must run unchanged on Workers and Vercel Edge: no `node:` imports and no `Buffer`
 * in anything the `tiercache` entry reaches.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { expect, it } from 'vitest'

/** Follows relative imports from an entry and returns every file reached. */
function reachable(entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry)) return seen
  seen.add(entry)
  const source = readFileSync(entry, 'utf8')
  for (const match of source.matchAll(/from '(\.[^']+)'/g)) {
    reachable(normalize(join(dirname(entry), match[1]!.replace(/\.js$/, '.ts'))), seen)
  }
  return seen
}

const EDGE_ENTRIES = [
  'src/index.ts',
  'src/http/index.ts',
  'src/guard/index.ts',
  'adapters/edge/index.ts',
  'adapters/hono/index.ts',
]

it('nothing the edge-facing entries reach imports node: modules or uses Buffer', () => {
  const files = EDGE_ENTRIES.flatMap((entry) => [...reachable(entry)])
  expect(files).toContain('src/cache/cache.ts')
  for (const file of files) {
    const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '') // code, not comments
    expect(source, file).not.toMatch(/from 'node:|require\(|\bBuffer\b|\bprocess\./)
    expect(file, 'the proxy and CLI are Node-only and must stay out of the cache path').not.toMatch(
      /src\/(proxy|cli|cluster)\//,
    )
  }
})
