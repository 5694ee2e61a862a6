import crypto, { timingSafeEqual } from 'node:crypto'
const tokens = ['bench-token-0123456789abcdef', 'another-token-for-readonly-xyz', 'admin-token-zzzzzzzzzzzzzzzzzzzzzzzzzzz']
const digests = tokens.map(t => crypto.hash('sha256', t, 'buffer'))
const width = Math.max(...tokens.map(t => Buffer.byteLength(t))) + 8
const padded = tokens.map(t => { const b = Buffer.alloc(width); b.writeUInt32LE(t.length, 0); b.write(t, 4, 'utf8'); return b })
const scratch = Buffer.alloc(width)
function viaHash(p) { const c = crypto.hash('sha256', p, 'buffer'); let f; for (const d of digests) if (timingSafeEqual(d, c) && f === undefined) f = d; return f }
function viaPad(p) { scratch.fill(0); scratch.writeUInt32LE(p.length, 0); scratch.write(p, 4, 'utf8'); let f; for (const d of padded) if (timingSafeEqual(d, scratch) && f === undefined) f = d; return f }
for (const [name, fn] of [['hash', viaHash], ['pad', viaPad], ['hash', viaHash], ['pad', viaPad]]) {
  const N = 1e6; let x = 0; const t0 = performance.now()
  for (let i = 0; i < N; i++) if (fn(tokens[i % 3])) x++
  console.log(name, ((performance.now() - t0) * 1000 / N).toFixed(3), 'µs', x)
}
