import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from '../helpers/ports.js'
import { post, startTestProxy, TOKENS } from '../helpers/proxy.js'
import { exchangeRaw } from '../helpers/raw-http.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'

let proxy: RunningProxy
let direct: Cluster
const ns = `bad-${Date.now()}`

beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
  direct = new Cluster([{ host: '127.0.0.1', port: inject('clusterPorts')[0]! }], {
    redisOptions: { protocol: 2 },
  })
})
afterAll(async () => {
  direct.disconnect()
  await proxy.close('1s')
})

/** Every error is JSON `{"error": "..."}` with a JSON content type, never plain text. */
function expectJsonError(
  response: { status: number; headers: Headers; text: string },
  status: number,
  pattern?: RegExp,
) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  const body = JSON.parse(response.text) as { error: unknown }
  expect(Object.keys(body)).toEqual(['error'])
  expect(typeof body.error).toBe('string')
  if (pattern) expect(body.error).toMatch(pattern)
}

/**
 * Sends raw bytes on a new connection and reads until the server closes it: the last answer's
 * status, headers (lower-case names) and body, and everything received.
 */
async function rawExchange(
  port: number,
  bytes: string,
): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  const raw = (await exchangeRaw(port, bytes)).toString('latin1')
  const last = raw.lastIndexOf('HTTP/1.1 ')
  const headEnd = raw.indexOf('\r\n\r\n', last)
  const [statusLine, ...lines] = raw.slice(last, headEnd).split('\r\n')
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  )
  return { status: Number(statusLine!.split(' ')[1]), headers, body: raw.slice(headEnd + 4), raw }
}

describe('bad input gets a JSON error with the right status, and never reaches Redis', () => {
  it('malformed JSON → 400', async () => {
    for (const body of ['{', '["SET", "a"', 'not json', '', '[1,]']) {
      expectJsonError(await post(proxy.url, '/', body), 400, /not valid JSON/)
      expectJsonError(await post(proxy.url, '/pipeline', body), 400, /not valid JSON/)
    }
  })

  it('a body that is not an array of string/number/boolean arrays → 400', async () => {
    for (const body of [{}, 'SET', 42, null, true]) expectJsonError(await post(proxy.url, '/', body), 400)
    expectJsonError(
      await post(proxy.url, '/', ['SET', 'k', null]),
      400,
      /argument 2 must be a string, number or boolean, got null/,
    )
    expectJsonError(await post(proxy.url, '/', ['SET', 'k', { v: 1 }]), 400, /got object/)
    expectJsonError(await post(proxy.url, '/', ['SET', 'k', ['nested']]), 400, /got an array/)
    expectJsonError(
      await post(proxy.url, '/pipeline', [['GET', 'a'], 'GET b']),
      400,
      /command 1 must be a JSON array/,
    )
    expectJsonError(await post(proxy.url, '/pipeline', { commands: [] }), 400, /array of commands/)
  })

  it('an empty command, an empty pipeline, an empty command name → 400', async () => {
    expectJsonError(await post(proxy.url, '/', []), 400, /empty/)
    expectJsonError(await post(proxy.url, '/pipeline', []), 400, /no command/)
    expectJsonError(await post(proxy.url, '/multi-exec', [[]]), 400, /command 0 is empty/)
    expectJsonError(await post(proxy.url, '/', ['', 'x']), 400, /command name is empty/)
  })

  it('more than 1000 commands → 400, and none of them runs', async () => {
    const commands = Array.from({ length: 1001 }, (_, i) => ['SET', `${ns}:many:${i}`, '1'])
    expectJsonError(await post(proxy.url, '/pipeline', commands), 400, /1001 \(at most 1000\)/)
    expect(await direct.exists(`${ns}:many:0`)).toBe(0)
    const ok = await post(proxy.url, '/pipeline', commands.slice(0, 1000))
    expect(ok.status).toBe(200)
  })

  it('a body over the size limit → 413', async () => {
    const big = JSON.stringify(['SET', `${ns}:big`, 'x'.repeat(1024 * 1024)])
    expectJsonError(await post(proxy.url, '/', big), 413, /larger than 1048576 bytes/)
    expect(await direct.exists(`${ns}:big`)).toBe(0)
  })

  it('a wrong method → 405; an unknown path → 404', async () => {
    for (const method of ['DELETE', 'PATCH', 'OPTIONS']) {
      const response = await fetch(`${proxy.url}/`, {
        method,
        headers: { authorization: `Bearer ${TOKENS.standard}` },
      })
      expectJsonError(
        { status: response.status, headers: response.headers, text: await response.text() },
        405,
      )
    }
    for (const path of ['/nosuchthing', '/pipeline/extra', '/v2/whatever']) {
      expectJsonError(await post(proxy.url, path, ['PING']), 404, /Not found/)
    }
  })

  it('a missing or invalid token → 401', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic abc' },
      { authorization: 'Bearer ' },
    ]
    for (const headers of attempts) {
      const response = await fetch(`${proxy.url}/`, { method: 'POST', headers, body: '["PING"]' })
      expectJsonError(
        { status: response.status, headers: response.headers, text: await response.text() },
        401,
        /Unauthorized/,
      )
    }
    const viaQuery = await fetch(`${proxy.url}/?_token=${TOKENS.standard}`, {
      method: 'POST',
      body: '["PING"]',
    })
    expect(await viaQuery.json()).toEqual({ result: 'PONG' })
  })

  it('a refused command → 403, and a pipeline holding one changes nothing', async () => {
    expectJsonError(await post(proxy.url, '/', ['FLUSHALL']), 403, /^NOPERM FLUSHALL needs an admin token/)
    expectJsonError(
      await post(proxy.url, '/', ['CONFIG', 'SET', 'maxmemory', '1']),
      403,
      /^NOPERM CONFIG SET/,
    )
    for (const command of [
      ['SHUTDOWN'],
      ['DEBUG', 'SLEEP', '1'],
      ['CLUSTER', 'RESET'],
      ['ACL', 'LIST'],
      ['SCRIPT', 'KILL'],
    ]) {
      expectJsonError(await post(proxy.url, '/', command), 403, /^NOPERM/)
    }
    const refused = await post(proxy.url, '/pipeline', [['SET', `${ns}:before`, '1'], ['FLUSHDB']])
    expectJsonError(refused, 403)
    expect(await direct.exists(`${ns}:before`)).toBe(0)
  })

  it('commands that would change a shared connection → 400 naming the endpoint to use', async () => {
    expectJsonError(await post(proxy.url, '/', ['MULTI']), 400, /use POST \/multi-exec/)
    expectJsonError(await post(proxy.url, '/', ['SELECT', '1']), 400, /one database/)
    expectJsonError(await post(proxy.url, '/', ['SUBSCRIBE', 'x']), 400, /\/subscribe/)
  })

  it('replication and reply-mode commands → 400 even with the admin token, and the connections still serve', async () => {
    // The fuzz test once sent SYNC with the admin token: the shared connection became a
    // replication link and every later command on it failed ("Replica can't interact with the keyspace").
    const admin = { authorization: `Bearer ${TOKENS.admin}` }
    for (const command of [
      ['SYNC'],
      ['PSYNC', '?', '-1'],
      ['REPLCONF', 'listening-port', '1'],
      ['CLIENT', 'REPLY', 'OFF'],
      ['CLIENT', 'TRACKING', 'on'],
      ['CLIENT', 'CACHING', 'yes'],
      ['MONITOR'],
    ]) {
      expectJsonError(await post(proxy.url, '/', command, admin), 400, /not accepted over HTTP/)
    }
    const refused = await post(proxy.url, '/pipeline', [['SET', `${ns}:sync`, '1'], ['SYNC']], admin)
    expectJsonError(refused, 400)
    expect(await direct.exists(`${ns}:sync`)).toBe(0)
    // Every node's shared connection still answers (a multi-key command fans out by slot).
    const keys = Array.from({ length: 12 }, (_, i) => `${ns}:after:${i}`)
    expect((await post(proxy.url, '/', ['MSET', ...keys.flatMap((k) => [k, 'v'])], admin)).status).toBe(200)
    expect((await post(proxy.url, '/', ['DEL', ...keys], admin)).json()).toEqual({ result: 12 })
    expect((await post(proxy.url, '/', ['CLIENT', 'ID'], admin)).status).toBe(200)
  })

  it('an unknown command → 400 with Redis’s own text', async () => {
    expectJsonError(
      await post(proxy.url, '/', ['NOSUCHCOMMAND', 'a']),
      400,
      /^ERR unknown command 'NOSUCHCOMMAND'/,
    )
    const pipeline = await post(proxy.url, '/pipeline', [['PING'], ['NOSUCHCOMMAND']])
    expect(pipeline.status).toBe(200)
    expect(pipeline.json()).toEqual([
      { result: 'PONG' },
      { error: expect.stringMatching(/^ERR unknown command/) },
    ])
  })

  it('names that are Object.prototype properties are unknown commands, not a 500 (found by the fuzz test)', async () => {
    for (const name of ['__proto__', 'constructor', 'toString']) {
      expectJsonError(await post(proxy.url, '/', [name, 'a']), 400, /^ERR unknown command/)
      const path = await fetch(`${proxy.url}/${name}`, {
        headers: { authorization: `Bearer ${TOKENS.standard}` },
      })
      expect(path.status, `GET /${name}`).toBe(404)
      expect(await path.json()).toEqual({ error: expect.any(String) })
      expectJsonError(await post(proxy.url, '/', ['OBJECT', name, 'k']), 400, /^ERR/)
    }
  })

  it('a wrong-arity or wrong-type command keeps Redis’s error text and prefix', async () => {
    expectJsonError(
      await post(proxy.url, '/', ['GET']),
      400,
      /^ERR wrong number of arguments for 'get' command/,
    )
    await post(proxy.url, '/', ['SET', `${ns}:str`, 'x'])
    expectJsonError(await post(proxy.url, '/', ['LPUSH', `${ns}:str`, 'y']), 400, /^WRONGTYPE/)
    expectJsonError(await post(proxy.url, '/', ['EVAL', 'return 1', 'notanumber']), 400, /^ERR/)
    expectJsonError(await post(proxy.url, '/', ['SCAN', 'not-a-cursor']), 400, /^ERR invalid cursor/)
  })

  it.each([
    [
      'a space in a header name',
      'POST / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      400,
      /malformed HTTP request: .*\(HPE_/,
    ],
    [
      'a tab after a Content-Length',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\t\r\n\r\n[]',
      400,
      /\(HPE_/,
    ],
    ['a NUL in a header value', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\u00002\r\n\r\n', 400, /\(HPE_/],
    [
      'not HTTP at all',
      '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n',
      400,
      /\(HPE_/,
    ],
    [
      'a head over 16 KiB',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
      431,
      /head is too large/,
    ],
    [
      'chunk extensions over 16 KiB',
      `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.standard}\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=${'a'.repeat(17 * 1024)}\r\nx\r\n0\r\n\r\n`,
      413,
      /chunk extensions are too large/,
    ],
  ])(
    'bytes node:http cannot parse (%s): a JSON error, then the connection closes',
    async (_name, bytes, status, pattern) => {
      const answer = await rawExchange(proxy.port, bytes)
      expect(answer.headers['content-type']).toBe('application/json')
      expect(answer.headers.connection).toBe('close')
      expectJsonError(
        { status: answer.status, headers: new Headers(answer.headers), text: answer.body },
        status,
        pattern,
      )
    },
  )

  it.each([
    [
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: gzip, chunked',
      501,
      /Transfer-Encoding "gzip, chunked" is not supported/,
    ],
    ['Content-Encoding: gzip', 'Content-Encoding: gzip', 415, /Content-Encoding "gzip" is not supported/],
    [
      'Content-Encoding: br, chunked',
      'Content-Encoding: br\r\nTransfer-Encoding: chunked',
      415,
      /Content-Encoding "br"/,
    ],
  ])(
    'a body under a coding node:http does not undo (%s): refused as JSON, never run, and the connection goes on',
    async (_name, codingLines, status, pattern) => {
      // The body is plain JSON under a false label: before, it was parsed and run (the SET
      // landed); a really compressed body came back as a 400 quoting binary.
      const key = `${ns}:coded:${status}:${_name.length}`
      const body = JSON.stringify(['SET', key, 'ran'])
      const framed = codingLines.includes('chunked')
        ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
        : body
      const length = codingLines.includes('chunked') ? '' : `Content-Length: ${body.length}\r\n`
      const next = `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
      const raw = (
        await exchangeRaw(
          proxy.port,
          `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.standard}\r\n${length}${codingLines}\r\n\r\n${framed}${next}`,
        )
      ).toString('latin1')
      const first = raw.slice(0, raw.indexOf('HTTP/1.1 ', 1))
      const headEnd = first.indexOf('\r\n\r\n')
      expect(first).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
      expect(first.slice(0, headEnd)).toMatch(/\r\ncontent-type: application\/json\r\n/i)
      expect(JSON.parse(first.slice(headEnd + 4)).error).toMatch(pattern)
      expect(raw.slice(first.length)).toMatch(/^HTTP\/1\.1 200 OK\r\n/) // the next request on it
      expect(await direct.get(key)).toBeNull()
    },
  )

  it.each([
    ['an asterisk-form target', 'GET * HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a Host no URL can have', 'GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n'],
    ['a backslash in the path', 'GET /a\\b HTTP/1.1\r\nHost: [::1\r\n\r\n'],
  ])(
    'a request node:http parses but no URL can be made of (%s): a JSON 400 (found by the raw-request property)',
    async (_name, bytes) => {
      const answer = await rawExchange(proxy.port, bytes)
      expectJsonError(
        { status: answer.status, headers: new Headers(answer.headers), text: answer.body },
        400,
        /^malformed request: /,
      )
    },
  )

  it('a malformed request after a good one on the same connection: the good one answered first, then the JSON 400', async () => {
    const good = `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.standard}\r\nContent-Length: 8\r\n\r\n["PING"]`
    const answer = await rawExchange(proxy.port, `${good}POST / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n`)
    expect(answer.raw).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"result":"PONG"\}HTTP\/1\.1 400 Bad Request\r\n/,
    )
    expect(answer.raw.endsWith('"}')).toBe(true)
  })

  it('the proxy is still healthy and the cluster untouched after all of the above', async () => {
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${proxy.url}/readyz`)).status).toBe(200)
    expect((await post(proxy.url, '/', ['PING'])).json()).toEqual({ result: 'PONG' })
  })
})

describe('upstream trouble', () => {
  it('upstream unreachable → 503 JSON, quickly', async () => {
    const port = await findFreePortRange(1, false)
    const dead = await startTestProxy({
      mode: 'standalone',
      redis: `redis://127.0.0.1:${port}`,
      readyWait: '200ms',
    })
    try {
      const started = Date.now()
      expectJsonError(await post(dead.url, '/', ['GET', 'x']), 503, /upstream Redis unreachable/)
      expectJsonError(await post(dead.url, '/pipeline', [['GET', 'x']]), 503)
      expect(Date.now() - started).toBeLessThan(3000)
      expect((await fetch(`${dead.url}/readyz`)).status).toBe(503)
      expect((await fetch(`${dead.url}/healthz`)).status).toBe(200)
    } finally {
      await dead.close('1s')
    }
  })

  describe('with a slow Redis', () => {
    let slow: RedisProcess
    let slowProxy: RunningProxy
    beforeAll(async () => {
      slow = await startRedisServer(await findFreePortRange(1, false), ['enable-debug-command yes'])
      slowProxy = await startTestProxy({
        mode: 'standalone',
        redis: `redis://127.0.0.1:${slow.port}`,
        deadline: '200ms',
      })
    })
    afterAll(async () => {
      await slowProxy.close('1s')
      await slow.stop()
    })

    it('a deadline passed → 504 JSON', async () => {
      // Connected first, so the request takes the common path (not the wait for a connection).
      const warm = await post(slowProxy.url, '/', ['PING'], { authorization: `Bearer ${TOKENS.admin}` })
      expect(warm.status).toBe(200)
      const started = Date.now()
      const response = await post(slowProxy.url, '/', ['DEBUG', 'SLEEP', '2'], {
        authorization: `Bearer ${TOKENS.admin}`,
      })
      expectJsonError(response, 504, /deadline of 200 ms/)
      // Answered at the deadline, not after the sleep (slack for a loaded 2-core machine).
      expect(Date.now() - started).toBeLessThan(1800)
      // The late reply must be dropped, not answered or accounted a second time (the in-flight
      // count would go below zero). A direct PING returns once the SLEEP is over; a PING through
      // the proxy then follows the SLEEP's reply on the proxy's one connection.
      const direct = new Redis({ port: slow.port, host: '127.0.0.1', lazyConnect: true })
      try {
        expect(await direct.ping()).toBe('PONG')
      } finally {
        direct.disconnect()
      }
      const ping = await post(slowProxy.url, '/', ['PING'], { authorization: `Bearer ${TOKENS.admin}` })
      expect(await ping.json()).toEqual({ result: 'PONG' })
      expect(slowProxy.proxy.inFlight()).toBe(0)
    })
  })
})
