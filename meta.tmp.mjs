import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
const r = await build({ entryPoints: ['examples/worker/index.ts'], bundle: true, minify: true, format: 'esm', platform: 'neutral', mainFields: ['module','main'], conditions: ['workerd','worker','browser'], write: false, metafile: true, external: ['@upstash/redis', 'hono', ...(process.argv[2]==='nolru'?['lru-cache']:[])], target: 'es2022' })
const out = Object.values(r.metafile.outputs)[0]
const rows = Object.entries(out.inputs).sort((a,b)=>b[1].bytesInOutput-a[1].bytesInOutput)
let t=0; for (const [f, i] of rows) { t+=i.bytesInOutput; console.log(String(i.bytesInOutput).padStart(7), f) }
console.log('total min', t, 'gz', gzipSync(r.outputFiles[0].contents,{level:9}).length)
import { writeFileSync } from 'node:fs'
writeFileSync('/tmp/worker.min.js', r.outputFiles[0].contents)
