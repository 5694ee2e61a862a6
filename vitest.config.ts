import { fileURLToPath } from 'node:url'
import { transform } from 'esbuild'
import { defineConfig } from 'vitest/config'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // The adapters and examples import the package by its name, as users do; tests run them on
    // the sources (no build needed), as tsconfig.check.json's paths do for the type check.
    alias: [
      { find: /^tiercache$/, replacement: here('./src/index.ts') },
      { find: /^tiercache\/(http|proxy|cluster|guard|queue|stock)$/, replacement: here('./src/$1/index.ts') },
      { find: /^tiercache\/(hono|lambda|edge)$/, replacement: here('./adapters/$1/index.ts') },
    ],
  },
  plugins: [
    {
      // TC39 decorators (tests of the hono adapter's `@cached`): Node 20 cannot run them and
      // Vite 8's transform (Oxc) lowers only legacy ones; esbuild lowers them for ES2022.
      name: 'lower-tc39-decorators',
      enforce: 'pre',
      async transform(code, id) {
        if (!id.endsWith('.ts') || !/^\s*@\w+\(/m.test(code)) return undefined
        const out = await transform(code, { loader: 'ts', target: 'es2022', sourcemap: true, sourcefile: id })
        return { code: out.code, map: out.map }
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests start real servers; failover tests wait for real promotions.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only add contention to the Redis processes under test.
    maxWorkers: 2,
  },
})
