/**
 * Resource limits: slow clients (slowloris), many SSE subscribers up to the cap, and a
 * 1000-command pipeline of large values. The proxy stays responsive to others meanwhile and
 * releases everything afterwards.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS, upstashClient } from '../helpers/proxy.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({
    redis: inject('clusterUrl'),
    headersTimeout: '1s',
    maxBlocking: 40,
    maxBodyBytes: 64 * 1024 * 1024,
  })
})
afterAll(() => proxy.close('1s'))

/** The time one small request takes now (ms). */
async function pingMs(): Promise<number> {
  const started = performance.now()
  const response = await fetch(`${proxy.url}/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.standard}` },
    body: '["PING"]',
  })
  expect(await response.json()).toEqual({ result: 'PONG' })
  return performance.now() - started
}

describe('resource limits', () => {
  it('200 slow clients (a request head dribbled out): others are served at once; the slow ones are cut after headersTimeout', {
    timeout: 30_000,
  }, async () => {
    const sockets: Socket[] = []
    const closed: Promise<void>[] = []
    for (let i = 0; i < 200; i++) {
      const socket = connect(proxy.port, '127.0.0.1')
      socket.on('error', () => {})
      closed.push(new Promise((r) => socket.on('close', () => r())))
      socket.write('POST / HTTP/1.1\r\nHost: x\r\n') // and never the rest
      sockets.push(socket)
    }
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('X-Slow: 1\r\n')
    }, 200)
    try {
      const during = await Promise.all(Array.from({ length: 10 }, () => pingMs()))
      expect(Math.max(...during)).toBeLessThan(500)
      // Cut by the server within headersTimeout (1 s) plus its 1 s check interval, with room.
      const started = Date.now()
      await Promise.all(closed)
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      clearInterval(drip)
      for (const s of sockets) s.destroy()
    }
    expect(await pingMs()).toBeLessThan(500)
  })

  it('a slow head on a connection node:http holds is cut with a JSON 408, after the answer before it', {
    timeout: 10_000,
  }, async () => {
    const socket = connect(proxy.port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    // A method the raw front leaves to node:http: the connection is node:http's from then on.
    socket.write('PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nPUT /x HTTP/1.1\r\nHost: x\r\n')
    const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), 200)
    try {
      await closed
    } finally {
      clearInterval(drip)
    }
    const received = Buffer.concat(chunks).toString('latin1')
    expect(received).toMatch(/^HTTP\/1\.1 401 /) // the first PUT: no token
    const answer = received.slice(received.lastIndexOf('HTTP/1.1 '))
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
    expect(answer).toMatch(/\r\ncontent-type: application\/json\r\n/i)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'the request took too long to arrive',
    })
  })

  it('SSE subscribers up to the cap: all get the message, the next one gets 429, all released after', {
    timeout: 30_000,
  }, async () => {
    const channel = `limits-${Date.now()}`
    const controllers = Array.from({ length: 40 }, () => new AbortController())
    const readers = await Promise.all(
      controllers.map(async (controller) => {
        const response = await fetch(`${proxy.url}/subscribe/${channel}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKENS.standard}` },
          signal: controller.signal,
        })
        expect(response.status).toBe(200)
        return response.body!.getReader()
      }),
    )
    const over = await fetch(`${proxy.url}/subscribe/${channel}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.standard}` },
    })
    expect(over.status).toBe(429)
    expect(await over.json()).toEqual({ error: expect.any(String) })
    expect(await pingMs()).toBeLessThan(500) // ordinary requests do not need a dedicated connection
    // Give every subscription time to be registered, then publish once.
    await new Promise((r) => setTimeout(r, 300))
    // In a cluster PUBLISH counts only the receiving node's subscribers: the count is not checked,
    // every subscriber's stream is.
    await upstashClient(proxy.url).publish(channel, 'hello')
    const decoder = new TextDecoder()
    await Promise.all(
      readers.map(async (reader) => {
        let text = ''
        while (!text.includes('hello')) {
          const { value, done } = await reader.read()
          if (done) break
          text += decoder.decode(value)
        }
        expect(text).toContain('hello')
      }),
    )
    for (const c of controllers) c.abort()
    // Released: a new subscriber is accepted again once the aborted streams are gone.
    let status = 0
    for (let tries = 0; tries < 50 && status !== 200; tries++) {
      await new Promise((r) => setTimeout(r, 100))
      const controller = new AbortController()
      const again = await fetch(`${proxy.url}/subscribe/${channel}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.standard}` },
        signal: controller.signal,
      })
      status = again.status
      controller.abort()
      if (status !== 200) await again.text()
    }
    expect(status).toBe(200)
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text()
    expect(metrics).toMatch(/tiercache_proxy_blocking_connections \d+/)
  })

  it('a 1000-command pipeline of 32 KB values (32 MB): answered in order; a small request meanwhile is not held long', {
    timeout: 60_000,
  }, async () => {
    const value = 'v'.repeat(32 * 1024)
    const commands = Array.from({ length: 1000 }, (_, i) => ['SET', `big:{${i % 16}}:${i}`, value])
    const big = fetch(`${proxy.url}/pipeline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.standard}` },
      body: JSON.stringify(commands),
    })
    const small = await Promise.all(Array.from({ length: 5 }, () => pingMs()))
    const response = await big
    expect(response.status).toBe(200)
    const answers = (await response.json()) as Array<{ result: string }>
    expect(answers).toHaveLength(1000)
    expect(answers.every((a) => a.result === 'OK')).toBe(true)
    console.log(`during a 32 MB pipeline, small requests took at most ${Math.max(...small).toFixed(0)} ms`)
    expect(Math.max(...small)).toBeLessThan(3000)
    expect(await pingMs()).toBeLessThan(500)
    const client = upstashClient(proxy.url)
    const del = client.pipeline()
    for (const [, key] of commands) del.del(key!)
    await del.exec()
  })
})
