/**
 * Property-based hostile input: random bodies and random commands (every name in Redis's command
 * table, random arguments) through the proxy on a cluster of its own. Whatever comes in, the
 * proxy answers JSON with a 2xx/4xx status, never a 500, and keeps serving.
 */
import { connect } from 'node:net'
import { list } from '@ioredis/commands'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { useOwnCluster } from '../helpers/own-cluster.js'
import { TOKENS } from '../helpers/proxy.js'

const own = useOwnCluster('hostile', { maxBlock: '20ms', deadline: '3s' })

const argument = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -3, max: 20 }).map(String),
  fc.constantFrom(
    '0',
    '1',
    '-1',
    '*',
    '$',
    '>',
    '{t}a',
    '{t}b',
    'BLOCK',
    'STREAMS',
    'COUNT',
    'MATCH',
    'NX',
    'EX',
    'BY',
    'GET',
    'LIMIT',
  ),
)
const command = fc
  .tuple(fc.constantFrom(...list), fc.array(argument, { maxLength: 6 }))
  .map(([name, args]) => [name, ...args])

async function send(path: string, body: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${own.proxy.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.standard}`, 'content-type': 'application/json' },
    body,
  })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error(`non-JSON answer ${response.status} to ${path} ${body}: ${text.slice(0, 200)}`)
  }
  return { status: response.status, json }
}

function expectSane({ status, json }: { status: number; json: unknown }, what: string) {
  expect([200, 400, 401, 403, 404, 413, 429], `${what} → ${status} ${JSON.stringify(json)}`).toContain(status)
  if (status !== 200) expect(json, what).toEqual({ error: expect.any(String) })
}

it('random commands from the whole command table: always JSON, never a 500, never a crash', {
  timeout: 120_000,
}, async () => {
  await fc.assert(
    fc.asyncProperty(command, async (cmd) => {
      expectSane(await send('/', JSON.stringify(cmd)), JSON.stringify(cmd))
    }),
    { numRuns: 1500 },
  )
  await fc.assert(
    fc.asyncProperty(
      fc.array(command, { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      async (cmds, transaction) => {
        const path = transaction ? '/multi-exec' : '/pipeline'
        expectSane(await send(path, JSON.stringify(cmds)), `${path} ${JSON.stringify(cmds)}`)
      },
    ),
    { numRuns: 300 },
  )
})

it('random JSON and random text as bodies: 400 JSON, never a crash', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.json(), fc.string()),
      fc.constantFrom('/', '/pipeline', '/multi-exec'),
      async (body, path) => {
        expectSane(await send(path, body), `${path} ${body}`)
      },
    ),
    { numRuns: 700 },
  )
})

/** The first answer on a new connection to these bytes, or `undefined` when the proxy closed it without one. */
function firstAnswer(bytes: Buffer): Promise<{ status: number; headers: string; body: string } | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(own.proxy.port, '127.0.0.1', () => socket.write(bytes))
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer within 3 s to ${JSON.stringify(bytes.toString('latin1'))}`))
    }, 3000)
    const finish = (answer: { status: number; headers: string; body: string } | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    socket.on('error', () => {}) // a reset after the answer, or instead of one: judged on close
    socket.on('close', () => finish(undefined))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const text = received.toString('latin1')
      const headEnd = text.indexOf('\r\n\r\n')
      if (headEnd === -1) return
      const headers = text.slice(0, headEnd)
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers)
      if (!length) return finish({ status: Number(headers.split(' ')[1]), headers, body: '' })
      const bodyEnd = headEnd + 4 + Number(length[1])
      if (received.length < bodyEnd) return
      finish({
        status: Number(headers.split(' ')[1]),
        headers,
        body: received.subarray(headEnd + 4, bodyEnd).toString('utf8'),
      })
    })
  })
}

// Raw requests near the edges of HTTP/1.1: each complete (a declared body is sent in full), so
// every one must be answered, by the raw front, by the Hono app, or by node:http's parser.
const headerName = fc.constantFrom(
  'X-A',
  'Accept',
  'Upstash-Encoding',
  'Upstash-Response-Format',
  'X-Request-Id',
  'Connection',
  'X Bad',
  'X-Ü',
  '',
)
const headerValue = fc.string({
  unit: fc.constantFrom(
    'a',
    '0',
    ' ',
    '\t',
    ',',
    ';',
    '=',
    'é',
    '\u0000',
    '\u007f',
    '\r',
    '\n',
    'base64',
    'close',
    'resp2',
  ),
  maxLength: 6,
})
const rawRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'get', 'BREW', ''),
  target: fc.oneof(
    fc.constantFrom(
      '/',
      '/pipeline',
      '/multi-exec',
      '/GET/a',
      '/SET/a/b',
      '/healthz',
      '/readyz',
      '/nope',
      '*',
      '/a%00b',
      '/../x',
    ),
    headerValue.map((v) => `/${v}`),
  ),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTX/1.1'),
  token: fc.constantFrom(TOKENS.standard, TOKENS.readonly, TOKENS.prefixed, 'wrong', undefined),
  headers: fc.array(fc.tuple(headerName, fc.constantFrom(': ', ':', ' : '), headerValue), { maxLength: 4 }),
  body: fc.oneof(
    fc.constant(''),
    fc.constant('["PING"]'),
    fc.constant('[["GET","a"]]'),
    fc.json({ maxDepth: 2 }),
    fc.string({ maxLength: 8 }),
  ),
  length: fc.constantFrom('exact', 'exact', 'exact', 'none', '+1', ' 1,1', '-1', 'x'),
  // Host lines (HTTP/1.1 requires exactly one) and line endings: CRLF, bare LF (which llhttp
  // refuses), or CRLF lines closed by a bare LF.
  hosts: fc.constantFrom(1, 1, 1, 0, 2),
  newline: fc.constantFrom('crlf', 'crlf', 'crlf', 'lf', 'lf-last'),
})

it('raw requests near the edges of HTTP/1.1: every answer JSON with a 2xx/4xx status, or the connection closed', {
  timeout: 120_000,
}, async () => {
  let answered = 0
  await fc.assert(
    fc.asyncProperty(rawRequest, async (r) => {
      const body = Buffer.from(r.body, 'utf8')
      const lines = [`${r.method} ${r.target} ${r.version}`]
      for (let i = 0; i < r.hosts; i++) lines.push('Host: x')
      if (r.token) lines.push(`Authorization: Bearer ${r.token}`)
      for (const [name, separator, value] of r.headers) lines.push(`${name}${separator}${value}`)
      const declared = r.length === 'exact' ? String(body.length) : r.length === 'none' ? undefined : r.length
      if (declared !== undefined) lines.push(`Content-Length: ${declared}`)
      // A body only where its length is declared and valid: otherwise there is nothing to wait for.
      const bytes = Buffer.concat([
        Buffer.from(
          r.newline === 'lf'
            ? `${lines.join('\n')}\n\n`
            : `${lines.join('\r\n')}\r\n${r.newline === 'lf-last' ? '\n' : '\r\n'}`,
          'latin1',
        ),
        r.length === 'exact' ? body : Buffer.alloc(0),
      ])
      const what = JSON.stringify(bytes.toString('latin1'))
      const answer = await firstAnswer(bytes)
      if (answer === undefined) return
      answered++
      expect([200, 400, 401, 403, 404, 405, 413, 431], `${what} → ${answer.headers}`).toContain(answer.status)
      expect(answer.headers, what).toMatch(/\r\ncontent-type: application\/json/i)
      const json = JSON.parse(answer.body) as unknown
      if (answer.status !== 200) expect(json, what).toEqual({ error: expect.any(String) })
    }),
    { numRuns: 3000 },
  )
  // Most requests are answered: the property must not pass on connections closed unanswered.
  expect(answered).toBeGreaterThan(2400)
})

it('still serves after all of it', async () => {
  expect((await fetch(`${own.proxy.url}/healthz`)).status).toBe(200)
  expect(await send('/', '["PING"]')).toEqual({ status: 200, json: { result: 'PONG' } })
})
