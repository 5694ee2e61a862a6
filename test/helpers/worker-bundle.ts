/**
 * The Worker example bundled as wrangler would (esbuild, ESM, the workerd conditions, minified),
 * in memory: shared by the bundle test and the cold-start benchmark.
 */
import { build } from 'esbuild'

/** Bundles `examples/worker`, leaving `external` packages out; the metafile says what went in. */
export function bundleWorkerExample(external: string[] = []) {
  return build({
    entryPoints: ['examples/worker/index.ts'],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    external,
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
}
