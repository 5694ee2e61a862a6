/**
 * One suite of `@upstash/redis` client operations, run against the proxy in every upstream mode
 * (cluster, standalone, sentinel): the client is the contract, the mode must not show.
 */
import { randomBytes } from 'node:crypto'
import type { Redis as UpstashRedis } from '@upstash/redis'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { post, TOKENS, upstashClient } from './proxy.js'

/** What the suite runs against. */
export interface SuiteTarget {
  /** The running proxy. */
  url: string
  /** Every Redis node behind it, for checks made straight against Redis. */
  nodes: Array<{ host: string; port: number }>
}

/** Registers the shared tests; `target()` gives the running proxy and its Redis nodes. */
export function upstashClientSuite(mode: string, target: () => SuiteTarget) {
  describe(`@upstash/redis through the proxy (${mode})`, () => {
    // Each run gets its own key space: the suite's cluster is shared by parallel test files.
    const ns = `suite-${mode}-${randomBytes(4).toString('hex')}`
    const k = (name: string) => `${ns}:${name}`
    const client = (): UpstashRedis => upstashClient(target().url)

    it('strings: set with options, get, incr, JSON values stay text on the wire', async () => {
      const redis = client()
      expect(await redis.set(k('s'), 'hello', { ex: 100 })).toBe('OK')
      expect(await redis.get(k('s'))).toBe('hello')
      expect(await redis.ttl(k('s'))).toBeGreaterThan(90)
      expect(await redis.set(k('nx'), 'a', { nx: true })).toBe('OK')
      expect(await redis.set(k('nx'), 'b', { nx: true })).toBeNull()
      expect(await redis.incrby(k('n'), 5)).toBe(5)
      expect(await redis.incrbyfloat(k('n'), 0.5)).toBe(5.5)
      await redis.set(k('json'), { a: 1, b: [true, null] })
      expect(await redis.get(k('json'))).toEqual({ a: 1, b: [true, null] })
      // The server must return the stored text as is: check the raw wire answer too.
      const raw = await post(target().url, '/', ['GET', k('json')])
      expect(raw.json()).toEqual({ result: '{"a":1,"b":[true,null]}' })
    })

    it('hashes come back as flat RESP2 arrays the client turns into objects', async () => {
      const redis = client()
      expect(await redis.hset(k('h'), { name: 'ada', visits: 3 })).toBe(2)
      expect(await redis.hgetall(k('h'))).toEqual({ name: 'ada', visits: 3 })
      expect(await redis.hincrby(k('h'), 'visits', 2)).toBe(5)
      const raw = await post(target().url, '/', ['HGETALL', k('h')])
      expect(raw.json()).toEqual({ result: ['name', 'ada', 'visits', '5'] })
    })

    it('lists, sets and sorted sets', async () => {
      const redis = client()
      expect(await redis.rpush(k('l'), 'a', 'b', 'c')).toBe(3)
      expect(await redis.lrange(k('l'), 0, -1)).toEqual(['a', 'b', 'c'])
      expect(await redis.lpop(k('l'))).toBe('a')
      expect(await redis.sadd(k('set'), 'x', 'y', 'x')).toBe(2)
      expect((await redis.smembers(k('set'))).sort()).toEqual(['x', 'y'])
      expect(await redis.zadd(k('z'), { score: 2, member: 'two' }, { score: 1, member: 'one' })).toBe(2)
      expect(await redis.zrange(k('z'), 0, -1, { withScores: true })).toEqual(['one', 1, 'two', 2])
      expect(await redis.zscore(k('z'), 'two')).toBe(2)
    })

    it('streams with a consumer group: XADD MAXLEN, XREADGROUP, XPENDING, XACK, XCLAIM, XAUTOCLAIM, XINFO', async () => {
      const redis = client()
      const stream = k('{stream}')
      for (let i = 0; i < 5; i++)
        await redis.xadd(stream, '*', { n: i }, { trim: { type: 'MAXLEN', threshold: 100, comparison: '~' } })
      expect(await redis.xlen(stream)).toBe(5)
      expect(await redis.xgroup(stream, { type: 'CREATE', group: 'g', id: '0' })).toBe('OK')
      const read = (await redis.xreadgroup('g', 'c1', stream, '>', { count: 3 })) as Array<
        [string, Array<[string, string[]]>]
      >
      expect(read[0]![1]).toHaveLength(3)
      const ids = read[0]![1].map(([id]) => id)
      const pending = (await redis.xpending(stream, 'g', '-', '+', 10)) as unknown[]
      expect(pending).toHaveLength(3)
      expect(await redis.xack(stream, 'g', ids[0]!)).toBe(1)
      const claimed = (await redis.xclaim(stream, 'g', 'c2', 0, ids[1]!)) as unknown[]
      expect(claimed).toHaveLength(1)
      const auto = (await redis.xautoclaim(stream, 'g', 'c3', 0, '0-0')) as [string, unknown[], unknown[]]
      expect(auto[1]).toHaveLength(2)
      const groups = (await redis.xinfo(stream, { type: 'GROUPS' })) as unknown[]
      expect(groups).toHaveLength(1)
    })

    it('scripts: EVAL, EVALSHA with the NOSCRIPT fallback after SCRIPT FLUSH', async () => {
      const redis = client()
      expect(await redis.eval('return redis.call("SET", KEYS[1], ARGV[1])', [k('e')], ['v'])).toBe('OK')
      const script = redis.createScript<string>(`return redis.call("GET", KEYS[1]) .. "-${ns}"`)
      expect(await script.exec([k('e')], [])).toBe(`v-${ns}`)
      // Flush every master's script cache (admin only): the client must get NOSCRIPT for its
      // EVALSHA and fall back to EVAL, as after a failover to a node that never saw the script.
      expect(await upstashClient(target().url, TOKENS.admin).scriptFlush()).toBe('OK')
      expect(await script.exec([k('e')], [])).toBe(`v-${ns}`)
      const missing = await post(target().url, '/', [
        'EVALSHA',
        'ffffffffffffffffffffffffffffffffffffffff',
        '1',
        k('e'),
      ])
      expect(missing.status).toBe(400)
      expect(missing.json()).toEqual({ error: expect.stringMatching(/^NOSCRIPT/) })
      // SCRIPT LOAD reaches every master, so EVALSHA works whatever slot its key maps to.
      const sha = await redis.scriptLoad('return KEYS[1]')
      for (let i = 0; i < 10; i++) expect(await redis.evalsha(sha, [k(`any${i}`)], [])).toBe(k(`any${i}`))
    })

    it('FUNCTION LOAD reaches every master, so FCALL works whatever slot its key is in', async () => {
      const library = `lib_${ns.replace(/-/g, '_')}`
      const code = `#!lua name=${library}\nredis.register_function('${library}_echo', function(keys, args) return keys[1] .. '=' .. args[1] end)`
      expect((await post(target().url, '/', ['FUNCTION', 'LOAD', 'REPLACE', code])).json()).toEqual({
        result: library,
      })
      for (let i = 0; i < 10; i++) {
        const called = await post(target().url, '/', ['FCALL', `${library}_echo`, '1', k(`f${i}`), 'x'])
        expect(called.json()).toEqual({ result: `${k(`f${i}`)}=x` })
      }
      const refused = await post(target().url, '/', ['FUNCTION', 'DELETE', library])
      expect(refused.status).toBe(403) // deleting is admin work
      expect(
        (
          await post(target().url, '/', ['FUNCTION', 'DELETE', library], {
            authorization: `Bearer ${TOKENS.admin}`,
          })
        ).json(),
      ).toEqual({ result: 'OK' })
    })

    it('a pipeline over many slots answers in request order, errors in place', async () => {
      const redis = client()
      const p = redis.pipeline()
      for (let i = 0; i < 50; i++) p.set(k(`p${i}`), i)
      p.incr(k('p7'))
      p.lpush(k('p8'), 'x') // WRONGTYPE, kept in place
      for (let i = 0; i < 50; i++) p.get(k(`p${i}`))
      const results = await p.exec({ keepErrors: true })
      expect(results).toHaveLength(102)
      expect(results[50]).toEqual({ result: 8, error: undefined })
      expect(results[51]!.error).toMatch(/^WRONGTYPE/)
      expect(results.slice(52).map((r) => r.result)).toEqual(
        Array.from({ length: 50 }, (_, i) => (i === 7 ? 8 : i)),
      )
    })

    it("a pipeline runs each key's commands in order, split and fanned-out ones included", async () => {
      // As one Redis runs a pipeline: a SET then a DEL of that key over several slots deletes it.
      // The split and fanned-out commands once went out before the rest of the pipeline.
      const redis = client()
      const [a, b, c] = [k('order-a'), k('order-b'), k('order-c')]
      const p = redis.pipeline()
      p.set(a, 1)
      p.set(b, 2)
      p.mget(a, b, c) // split by slot
      p.exists(a, b, c)
      p.keys(k('order-*')) // every master
      p.del(a, b, c) // split by slot
      p.get(a)
      p.set(a, 'again')
      p.mset({ [b]: 'x', [c]: 'y' }) // split by slot
      p.get(c)
      p.dbsize()
      const results = await p.exec()
      expect(results.slice(0, 4)).toEqual(['OK', 'OK', [1, 2, null], 2])
      expect((results[4] as string[]).sort()).toEqual([a, b].sort())
      expect(results.slice(5, 10)).toEqual([2, null, 'OK', 'OK', 'y'])
      expect(await redis.mget(a, b, c)).toEqual(['again', 'x', 'y'])
      // The same over the client's auto-pipelining (commands of one tick sent as one pipeline).
      const auto = upstashClient(target().url, TOKENS.standard, true)
      const [set, deleted, after] = await Promise.all([auto.set(a, 'z'), auto.del(a, b, c), auto.exists(a)])
      expect([set, deleted, after]).toEqual(['OK', 3, 0])
    })

    it('multi-exec runs in one slot; keys in several slots are refused as CROSSSLOT', async () => {
      const redis = client()
      const tx = redis.multi()
      tx.set(k('{tx}a'), 1)
      tx.incr(k('{tx}a'))
      tx.get(k('{tx}a'))
      expect(await tx.exec()).toEqual(['OK', 2, 2])
      if (mode === 'cluster') {
        const bad = await post(target().url, '/multi-exec', [
          ['SET', k('{one}x'), '1'],
          ['SET', k('{two}y'), '1'],
        ])
        expect(bad.status).toBe(400)
        expect(bad.json()).toEqual({ error: expect.stringMatching(/^CROSSSLOT/) })
        expect(await redis.exists(k('{one}x'))).toBe(0)
      }
      const aborted = await post(target().url, '/multi-exec', [['SET', k('{tx}b'), '1'], ['NOSUCHCOMMAND']])
      expect(aborted.status).toBe(400)
      expect(aborted.json()).toEqual({ error: expect.stringMatching(/^EXECABORT/) })
    })

    it('MGET / MSET / DEL / EXISTS / TOUCH / UNLINK over keys in many slots', async () => {
      const redis = client()
      const keys = Array.from({ length: 40 }, (_, i) => k(`multi${i}`))
      expect(await redis.mset(Object.fromEntries(keys.map((key, i) => [key, `v${i}`])))).toBe('OK')
      expect(await redis.mget(...keys, k('absent'))).toEqual([...keys.map((_, i) => `v${i}`), null])
      expect(await redis.exists(...keys, keys[0]!)).toBe(41)
      expect(await redis.touch(...keys)).toBe(40)
      expect(await redis.del(...keys.slice(0, 20))).toBe(20)
      expect(await redis.unlink(...keys)).toBe(20)
      expect(await redis.exists(...keys)).toBe(0)
    })

    it('SCAN walks the whole keyspace with one cursor (all masters in a cluster)', async () => {
      const redis = client()
      const keys = Array.from({ length: 60 }, (_, i) => k(`scan:${i}`))
      await redis.mset(Object.fromEntries(keys.map((key) => [key, '1'])))
      const seen = new Set<string>()
      let cursor: string | number = '0'
      let rounds = 0
      do {
        const [next, batch]: [string, string[]] = await redis.scan(cursor, {
          match: `${ns}:scan:*`,
          count: 10,
        })
        expect(typeof next).toBe('string')
        for (const key of batch) seen.add(key)
        cursor = next
        rounds++
      } while (cursor !== '0' && rounds < 1000)
      expect([...seen].sort()).toEqual([...keys].sort())
      expect(await redis.keys(`${ns}:scan:*`)).toHaveLength(60)
      expect(await redis.dbsize()).toBeGreaterThanOrEqual(60)
      expect(typeof (await redis.randomkey())).toBe('string')
    })

    it('binary values round-trip byte for byte under base64', async () => {
      const bytes = randomBytes(256) // every kind of byte, most of them invalid UTF-8
      // Write the bytes with a script that decodes hex (JSON bodies carry text only), read them back raw.
      await post(target().url, '/', [
        'EVAL',
        "return redis.call('SET', KEYS[1], (ARGV[1]:gsub('..', function (h) return string.char(tonumber(h, 16)) end)))",
        '1',
        k('bin'),
        bytes.toString('hex'),
      ])
      const encoded = await post(target().url, '/', ['GET', k('bin')], { 'upstash-encoding': 'base64' })
      expect(Buffer.from((encoded.json() as { result: string }).result, 'base64').equals(bytes)).toBe(true)
      const plain = await post(target().url, '/', ['GET', k('bin')])
      expect((plain.json() as { result: string }).result).toContain('\uFFFD') // invalid bytes, replaced
      const ok = await post(target().url, '/', ['SET', k('ok'), 'OK'], { 'upstash-encoding': 'base64' })
      expect(ok.json()).toEqual({ result: 'OK' })
      const unicode = await client().set(k('utf8'), 'zoë 🚀 日本')
      expect(unicode).toBe('OK')
      expect(await client().get(k('utf8'))).toBe('zoë 🚀 日本')
    })

    it('subscribe over SSE receives published messages; disconnecting ends the subscription', async () => {
      const redis = client()
      const channel = k('chan')
      const received: string[] = []
      const subscriber = redis.subscribe<string>(channel)
      subscriber.on('message', ({ message }) => received.push(String(message)))
      // PUBLISH counts only the receiving node's subscribers in a cluster: wait for delivery instead.
      let n = 0
      await expect
        .poll(
          async () => {
            await redis.publish(channel, `probe-${n++}`)
            return received.length
          },
          { timeout: 5000, interval: 100 },
        )
        .toBeGreaterThan(0)
      await redis.publish(channel, 'hello world, with commas')
      await expect.poll(() => received.includes('hello world, with commas'), { timeout: 5000 }).toBe(true)
      expect(await subscriberCount(target().nodes, channel)).toBe(1)
      await subscriber.unsubscribe()
      // The proxy must release the Redis subscription once the client is gone.
      await expect.poll(() => subscriberCount(target().nodes, channel), { timeout: 5000 }).toBe(0)
    })

    it('psubscribe over SSE: pmessage lines with the pattern and the channel, raw text', async () => {
      const abort = new AbortController()
      const response = await fetch(`${target().url}/psubscribe/${encodeURIComponent(`${ns}:news.*`)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.standard}`, accept: 'text/event-stream' },
        signal: abort.signal,
      })
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const publisher = client()
      const publishing = setInterval(() => void publisher.publish(`${ns}:news.tech`, 'zoë, raw'), 100)
      const lines = await readEvents(response, (l) => l.some((x) => x.startsWith('pmessage')))
      clearInterval(publishing)
      abort.abort()
      expect(lines[0]).toBe(`psubscribe,${ns}:news.*,1`)
      expect(lines).toContain(`pmessage,${ns}:news.*,${ns}:news.tech,zoë, raw`)
    })
  })
}

/** Reads SSE `data:` lines from a streaming response until `until` says enough (or 5 s pass). */
export async function readEvents(response: Response, until: (lines: string[]) => boolean): Promise<string[]> {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const lines: string[] = []
  let buffer = ''
  const deadline = Date.now() + 5000
  while (!until(lines) && Date.now() < deadline) {
    const { value, done } = await Promise.race([
      reader.read(),
      new Promise<{ value: undefined; done: true }>((r) =>
        setTimeout(() => r({ value: undefined, done: true }), deadline - Date.now()),
      ),
    ])
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    for (const part of parts) if (part.startsWith('data: ')) lines.push(part.slice(6))
  }
  await reader.cancel()
  return lines
}

/** Subscribers of a channel summed over every node (read straight from Redis, not through the proxy). */
async function subscriberCount(
  nodes: Array<{ host: string; port: number }>,
  channel: string,
): Promise<number> {
  let total = 0
  for (const node of nodes) {
    const redis = new Redis({ ...node, protocol: 2, lazyConnect: true })
    try {
      const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number]
      total += Number(reply[1])
    } finally {
      redis.disconnect()
    }
  }
  return total
}
