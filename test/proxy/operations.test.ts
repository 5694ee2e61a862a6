import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { readEvents } from '../helpers/client-suite.js'
import { post, startTestProxy, TOKENS } from '../helpers/proxy.js'

let proxy: RunningProxy
const ns = `ops-${Date.now()}`
const auth = { authorization: `Bearer ${TOKENS.standard}` }

beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

describe('protocol details', () => {
  it('path-style commands: arguments in the path, a POST body as the last one, query flags appended', async () => {
    const set = await fetch(`${proxy.url}/set/${ns}:path/hello%20world?EX=100`, { headers: auth })
    expect(await set.json()).toEqual({ result: 'OK' })
    expect(await (await fetch(`${proxy.url}/get/${ns}:path?_token=${TOKENS.standard}`)).json()).toEqual({
      result: 'hello world',
    })
    expect(await (await fetch(`${proxy.url}/ttl/${ns}:path`, { headers: auth })).json()).toEqual({
      result: 100,
    })
    const body = await fetch(`${proxy.url}/set/${ns}:body`, {
      method: 'POST',
      headers: auth,
      body: '{"raw": "json text"}',
    })
    expect(await body.json()).toEqual({ result: 'OK' })
    expect(await (await fetch(`${proxy.url}/get/${ns}:body`, { headers: auth })).json()).toEqual({
      result: '{"raw": "json text"}',
    })
    const nx = await fetch(`${proxy.url}/set/${ns}:body/other?NX`, { headers: auth })
    expect(await nx.json()).toEqual({ result: null })
  })

  it('every response carries a new upstash-sync-token; any echoed token is accepted', async () => {
    const first = await post(proxy.url, '/', ['PING'])
    const second = await post(proxy.url, '/', ['PING'], {
      'upstash-sync-token': first.headers.get('upstash-sync-token')!,
    })
    const stale = await post(proxy.url, '/', ['PING'], {
      'upstash-sync-token': 'stale-or-from-another-proxy',
    })
    const empty = await post(proxy.url, '/', ['PING'], { 'upstash-sync-token': '' })
    const error = await post(proxy.url, '/', ['NOSUCHCOMMAND'])
    const tokens = [first, second, stale, empty, error].map((r) => r.headers.get('upstash-sync-token'))
    expect(tokens.every((t) => typeof t === 'string' && t.length > 0)).toBe(true)
    expect(new Set(tokens).size).toBe(tokens.length)
    expect([second, stale, empty].map((r) => r.status)).toEqual([200, 200, 200])
  })

  it('numbers and booleans in commands become their string forms', async () => {
    await post(proxy.url, '/', ['SET', `${ns}:num`, 100, 'EX', 50])
    await post(proxy.url, '/', ['SET', `${ns}:bool`, true])
    expect((await post(proxy.url, '/', ['GET', `${ns}:num`])).json()).toEqual({ result: '100' })
    expect((await post(proxy.url, '/', ['GET', `${ns}:bool`])).json()).toEqual({ result: 'true' })
  })

  it('Upstash-Response-Format: resp2 answers raw RESP2', async () => {
    await post(proxy.url, '/', ['SET', `${ns}:r`, 'v'])
    expect(
      (await post(proxy.url, '/', ['GET', `${ns}:r`], { 'upstash-response-format': 'resp2' })).text,
    ).toBe('$1\r\nv\r\n')
    const pipeline = await post(
      proxy.url,
      '/pipeline',
      [
        ['INCR', `${ns}:c`],
        ['GET', `${ns}:missing`],
        ['LPUSH', `${ns}:r`, 'x'],
      ],
      {
        'upstash-response-format': 'resp2',
      },
    )
    expect(pipeline.text).toMatch(/^:1\r\n\$-1\r\n-WRONGTYPE .*\r\n$/)
  })

  it('pipeline items: success without an error key, error without a result key', async () => {
    const response = await post(proxy.url, '/pipeline', [
      ['SET', `${ns}:x`, 'a'],
      ['INCR', `${ns}:x`],
      ['GET', `${ns}:nothing`],
    ])
    const items = response.json() as Array<Record<string, unknown>>
    expect(items[0]).toEqual({ result: 'OK' })
    expect(Object.keys(items[1]!)).toEqual(['error'])
    expect(items[2]).toEqual({ result: null })
    expect('result' in items[2]!).toBe(true)
  })
})

describe('operations', () => {
  it('/healthz, /readyz and Prometheus /metrics', async () => {
    expect(await (await fetch(`${proxy.url}/healthz`)).json()).toEqual({ status: 'ok' })
    expect(await (await fetch(`${proxy.url}/readyz`)).json()).toEqual({ status: 'ready', mode: 'cluster' })
    await post(proxy.url, '/pipeline', [
      ['GET', `${ns}:m1`],
      ['GET', `${ns}:m2`],
    ])
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text()
    expect(metrics).toMatch(/tiercache_proxy_requests_total\{route="\/pipeline",status="200"\} \d+/)
    expect(metrics).toMatch(/tiercache_proxy_commands_total\{command="get"\} \d+/)
    expect(metrics).toMatch(
      /tiercache_proxy_request_duration_seconds_bucket\{le="0\.005",route="\/pipeline"\} \d+/,
    )
    expect(metrics).toMatch(/tiercache_proxy_blocking_connections 0/)
    expect(metrics).toMatch(/^tiercache_proxy_processes 1$/m)
    expect(metrics).toMatch(/tiercache_proxy_process_resident_memory_bytes \d+/)
  })

  it("/metrics from another source (the workers' sum under --workers): its text, or a JSON 503 when it fails", async () => {
    let fail = false
    const other = await startTestProxy({
      redis: inject('clusterUrl'),
      metricsReader: (own) => async () => {
        if (fail) throw new Error('the primary did not answer')
        return `# summed\n${await own.metrics()}`
      },
    })
    try {
      const ok = await fetch(`${other.url}/metrics`)
      expect(ok.status).toBe(200)
      expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
      const text = await ok.text()
      expect(text.startsWith('# summed\n')).toBe(true)
      expect(text).toMatch(/^tiercache_proxy_processes 1$/m)
      fail = true
      const failed = await fetch(`${other.url}/metrics`)
      expect(failed.status).toBe(503)
      expect(await failed.json()).toEqual({ error: 'metrics unavailable: the primary did not answer' })
      expect(await (await fetch(`${other.url}/healthz`)).json()).toEqual({ status: 'ok' })
    } finally {
      await other.close('1s')
    }
  })

  it('MONITOR over SSE is admin only, and shows the commands of every master', async () => {
    const refused = await post(proxy.url, '/monitor', '')
    expect(refused.status).toBe(403)
    const abort = new AbortController()
    const response = await fetch(`${proxy.url}/monitor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.admin}`, accept: 'text/event-stream' },
      signal: abort.signal,
    })
    const marker = `${ns}:monitored`
    const poking = setInterval(() => void post(proxy.url, '/', ['GET', marker]), 100)
    const lines = await readEvents(response, (l) => l.some((x) => x.includes(marker)))
    clearInterval(poking)
    abort.abort()
    expect(lines[0]).toBe('OK')
    expect(lines.find((x) => x.includes(marker))).toMatch(new RegExp(`"get" "${marker}"`, 'i'))
  })

  it('graceful shutdown: stops accepting, finishes in-flight requests, then closes Redis', async () => {
    const own = await startTestProxy({ redis: inject('clusterUrl') })
    const inFlight = post(own.url, '/', ['BLPOP', `${ns}:drain`, '0.5'])
    await new Promise((r) => setTimeout(r, 100))
    const closing = own.close('5s')
    await new Promise((r) => setTimeout(r, 50))
    await expect(fetch(`${own.url}/healthz`)).rejects.toThrow()
    const finished = await inFlight
    expect(finished.status).toBe(200)
    expect(finished.json()).toEqual({ result: null })
    await closing
    expect(own.proxy.upstream.client.status).toBe('end')
  })
})
