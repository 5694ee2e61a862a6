/**
 * Property-based hostile input: random bodies and random commands (every name in Redis's command
 * table, random arguments) through the proxy on a cluster of its own. Whatever comes in, the
 * proxy answers JSON with a 2xx/4xx status, never a 500, and keeps serving.
 */
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

it('still serves after all of it', async () => {
  expect((await fetch(`${own.proxy.url}/healthz`)).status).toBe(200)
  expect(await send('/', '["PING"]')).toEqual({ status: 200, json: { result: 'PONG' } })
})
