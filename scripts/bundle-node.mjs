#!/usr/bin/env node
// Bundles the built entry points (dist/, from tsc) into dist/node/: one file per entry and the code
// they share in chunks, for package.json#exports' "node" condition. A Node process (a Lambda cold
// start) then loads a handful of files instead of some thirty modules: import to the first L1 hit
// measured 46.9 → 36.2 ms, about 21 of it @upstash/redis (docs/benchmarks.md, cold start). Bundlers
// for Workers and the edge keep the per-module files ("default"): they tree-shake them, and the
// Worker bundle test reads them.
//
// All entries go through one build with splitting, so a class or registry shared by two subpaths
// (InvalidOptionError, the cache's internals behind `tiercache/http`) is one module instance, as
// it is with the per-module files. Flat names (dist/node/<name>.js, chunks beside them) keep
// every file two levels below the package root, where the `import.meta.url` paths of
// cluster/node-config and cli/main point from.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { build } from 'esbuild'

const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
/** `tiercache/<subpath>` → the per-module file its "default" condition names. */
const defaults = new Map(
  Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object')
    .map(([subpath, target]) => [
      subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      target.default,
    ]),
)
const entryPoints = Object.fromEntries(
  Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object' && target.node)
    .map(([, target]) => [target.node.replace(/^\.\/dist\/node\//, '').replace(/\.js$/, ''), target.default]),
)

await build({
  entryPoints,
  outdir: 'dist/node',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunk-[hash]',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [
    {
      // The adapters import the package by its name (`tiercache/http`): bundled with the rest,
      // not left as an import that would load the per-module copy beside this one.
      name: 'tiercache-self',
      setup(b) {
        b.onResolve({ filter: /^tiercache(\/|$)/ }, (args) => {
          const file = defaults.get(args.path)
          if (!file) return { errors: [{ text: `${args.path} is not in package.json#exports` }] }
          return { path: resolve(file) }
        })
      },
    },
  ],
})
