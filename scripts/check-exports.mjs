#!/usr/bin/env node
// Fails the build when package.json#exports, bin and the built files disagree: every export
// must point at files the build produced, and every public entry in src/ must be exported.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
const problems = []

for (const [subpath, target] of Object.entries(pkg.exports)) {
  const files = typeof target === 'string' ? [target] : Object.values(target)
  for (const file of files)
    if (!existsSync(file))
      problems.push(`exports["${subpath}"] points at ${file}, which the build did not produce`)
}

// Public entries: src/index.ts and src/<folder>/index.ts. Each needs an export of its own.
const entries = [
  'src/index.ts',
  ...readdirSync('src')
    .filter((d) => statSync(join('src', d)).isDirectory())
    .map((d) => `src/${d}/index.ts`),
]
// Adapters: adapters/<host>/index.ts, built to dist/adapters/<host>/index.js.
if (existsSync('adapters'))
  for (const d of readdirSync('adapters'))
    if (statSync(join('adapters', d)).isDirectory()) entries.push(`adapters/${d}/index.ts`)
for (const entry of entries.filter((e) => existsSync(e))) {
  const built = `./${entry
    .replace(/^src\//, 'dist/')
    .replace(/^adapters\//, 'dist/adapters/')
    .replace(/\.ts$/, '.js')}`
  const exported = Object.values(pkg.exports).some((t) =>
    typeof t === 'string' ? t === built : t.default === built,
  )
  if (!exported) problems.push(`${entry} is a public entry but no exports subpath points at ${built}`)
}

for (const [name, file] of Object.entries(pkg.bin ?? {})) {
  if (!existsSync(file)) problems.push(`bin "${name}" points at ${file}, which the build did not produce`)
  else if (!readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node'))
    problems.push(`bin "${name}" (${file}) has no node shebang`)
}

// What a consumer installs: every package the built code imports (or its declarations import,
// for TypeScript users) must come with tiercache: a dependency or peer dependency, or for
// declarations its @types package. A devDependency is not installed for them.
const provided = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})])
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/')
const typesPackageOf = (name) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`
const builtFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? builtFiles(join(dir, e.name)) : [join(dir, e.name)],
  )
// Static imports and re-exports (`import ... from 'x'`, `export ... from 'x'`, `import 'x'`) at the
// start of a line, and `import('x')` anywhere (declarations use it for types).
const importPattern =
  /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm
for (const file of builtFiles('dist').filter((f) => /\.(js|d\.ts)$/.test(f))) {
  const declarations = file.endsWith('.d.ts')
  for (const match of readFileSync(file, 'utf8').matchAll(importPattern)) {
    const specifier = match[1] ?? match[2] ?? match[3]
    if (specifier.startsWith('.') || specifier.startsWith('node:')) continue
    const name = packageOf(specifier)
    if (name === pkg.name || provided.has(name)) continue
    if (declarations && provided.has(typesPackageOf(name))) continue
    problems.push(
      `${file} imports ${specifier}, but ${declarations ? `neither ${name} nor ${typesPackageOf(name)} is` : `${name} is not`} a dependency: consumers will not have it`,
    )
  }
}

if (problems.length) {
  console.error(`package.json and the build disagree:\n- ${problems.join('\n- ')}`)
  process.exit(1)
}
console.log(
  `exports ok: ${Object.keys(pkg.exports).length} subpaths, ${Object.keys(pkg.bin ?? {}).length} bin, ${entries.length} public entries`,
)
