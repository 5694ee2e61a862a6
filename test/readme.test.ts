/**
 * The README's TypeScript snippets type-check, as a user pasting them into a strict project would
 * find them: each block is written to a file with declarations for what it leaves out (`db`,
 * `loadProduct`...), and `tsc` checks them all against the package's own types. Three snippets
 * once failed this way (a Lambda event typed `unknown`, a route returning a promise of data, a
 * decorated method that was not async).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

/**
 * What each block leaves out, keyed by text that identifies the block. A block with no entry
 * fails the test: a new snippet gets its declarations here rather than going unchecked.
 */
const PREAMBLES: Array<{ marker: string; preamble: string }> = [
  {
    marker: "const cache = createCache({\n  redis: { url: 'http://127.0.0.1:8079'",
    preamble: `
declare const id: string
declare const db: { users: { find(id: string): Promise<{ name: string } | null>; update(id: number, row: { name: string }): Promise<void> } }
declare function loadUsersByKey(keys: string[]): Promise<Array<{ name: string } | null>>`,
  },
  {
    marker: "app.use('/products/*', cacheMiddleware(",
    preamble: `
import { Hono, type Context } from 'hono'
import { createCache } from 'tiercache'
import { cacheMiddleware, cached } from 'tiercache/hono'
const app = new Hono()
const cache = createCache()
declare const id: string
declare function load(id: string | undefined): { id: string }
declare function find(c: Context): Promise<{ id: string }>
declare function loadMe(): Promise<{ name: string }>`,
  },
  {
    marker: 'export const handler = withCache(',
    preamble: `
declare const url: string
declare const token: string
declare function loadProduct(): Promise<{ id: string }>`,
  },
  {
    marker: 'export default withCache({',
    preamble: `
import { cacheFetch, withCache } from 'tiercache/edge'
declare function loadProduct(): Promise<{ id: string }>`,
  },
  {
    marker: "import { createQueue } from 'tiercache/queue'",
    preamble: `
declare const url: string
declare const token: string
declare function send(payload: unknown): Promise<void>`,
  },
  {
    marker: "import { createStock } from 'tiercache/stock'",
    preamble: `
declare const url: string
declare const token: string
declare const userId: string
declare const idempotencyKey: string`,
  },
  {
    marker: 'const lock = createLock(',
    preamble: `
declare const url: string
declare const token: string
declare function rebuildCatalog(options: { fence: number; signal: AbortSignal }): Promise<void>`,
  },
  { marker: "import { Redis } from '@upstash/redis'", preamble: '' },
  { marker: "import { startProxy } from 'tiercache/proxy'", preamble: '' },
]

/** The README's ```ts blocks, in order. */
function typeScriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '')
}

describe('README', () => {
  it('every TypeScript snippet type-checks (strict, the package by its name)', {
    timeout: 120_000,
  }, async () => {
    const blocks = typeScriptBlocks(readFileSync('README.md', 'utf8'))
    expect(blocks.length).toBeGreaterThanOrEqual(PREAMBLES.length)
    const dir = join('.tiercache', 'readme-snippets')
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    blocks.forEach((block, index) => {
      const found = PREAMBLES.filter(({ marker }) => block.includes(marker))
      if (found.length !== 1) {
        throw new Error(
          `README block ${index + 1} (${JSON.stringify(block.split('\n')[0])}) matches ${found.length} entries of PREAMBLES: give it exactly one`,
        )
      }
      // Imports first, then the declarations, then the snippet: a module of its own.
      writeFileSync(
        join(dir, `block-${index + 1}.ts`),
        `${found[0]?.preamble.trim() ?? ''}\n${block}\nexport {}\n`,
      )
    })
    // The repository's strict settings, with `tiercache/...` mapped to the sources (no build needed).
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../../tsconfig.check.json', include: ['./*.ts'] }),
    )
    const checked = await run('node_modules/.bin/tsc', ['-p', join(dir, 'tsconfig.json')]).then(
      ({ stdout }) => ({ ok: true, output: stdout }),
      (error: { stdout?: string; stderr?: string }) => ({
        ok: false,
        output: `${error.stdout}${error.stderr}`,
      }),
    )
    expect(checked.output).toBe('')
    expect(checked.ok).toBe(true)
  })
})
