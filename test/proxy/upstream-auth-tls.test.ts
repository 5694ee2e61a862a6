/**
 * Upstream credentials and TLS: passwords and ACL users in the URL, `rediss://` with a private CA,
 * against real redis-server processes (TLS material made by openssl for the test).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePortRange } from '../helpers/ports.js'
import { post, startTestProxy, TOKENS } from '../helpers/proxy.js'
import { type RedisProcess, startRedisServer } from '../helpers/redis-servers.js'

const admin = { authorization: `Bearer ${TOKENS.admin}` }
const servers: RedisProcess[] = []
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
})

/** MONITOR through the proxy sees a command sent meanwhile (its raw connection logs in and speaks TLS too). */
async function monitorSees(url: string, marker: string): Promise<string[]> {
  const abort = new AbortController()
  const response = await fetch(`${url}/monitor`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.admin}` },
    signal: abort.signal,
  })
  const poking = setInterval(() => void post(url, '/', ['GET', marker]), 100)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    while (!text.includes(marker)) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
  } finally {
    clearInterval(poking)
    abort.abort()
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6))
}

describe('passwords and ACL users in the URL', () => {
  let port = 0
  beforeAll(async () => {
    port = await findFreePortRange(1, false)
    servers.push(
      await startRedisServer(port, ['requirepass default-secret', 'user app on >app-secret ~* &* +@all']),
    )
  })

  it('an ACL user and password', async () => {
    const proxy = await startTestProxy({
      mode: 'standalone',
      redis: `redis://app:app-secret@127.0.0.1:${port}`,
    })
    try {
      expect((await post(proxy.url, '/', ['ACL', 'WHOAMI'], admin)).json()).toEqual({ result: 'app' })
      const lines = await monitorSees(proxy.url, 'acl-monitored')
      expect(lines[0]).toBe('OK')
      expect(lines.some((l) => /"get" "acl-monitored"/i.test(l))).toBe(true)
    } finally {
      await proxy.close('1s')
    }
  })

  it('the default user’s password, percent-encoded characters included', async () => {
    const proxy = await startTestProxy({
      mode: 'standalone',
      redis: `redis://:default%2Dsecret@127.0.0.1:${port}`,
    })
    try {
      expect((await post(proxy.url, '/', ['ACL', 'WHOAMI'], admin)).json()).toEqual({ result: 'default' })
    } finally {
      await proxy.close('1s')
    }
  })

  it('a wrong password: 503 that says why', async () => {
    const proxy = await startTestProxy({
      mode: 'standalone',
      redis: `redis://app:wrong@127.0.0.1:${port}`,
      readyWait: '500ms',
    })
    try {
      const response = await post(proxy.url, '/', ['PING'])
      expect(response.status).toBe(503)
      expect(response.json()).toEqual({ error: expect.stringMatching(/WRONGPASS/) })
      expect(await (await fetch(`${proxy.url}/readyz`)).json()).toMatchObject({
        error: expect.stringMatching(/WRONGPASS/),
      })
    } finally {
      await proxy.close('1s')
    }
  })
})

describe('rediss:// with a private CA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-tls-'))
  let tlsPort = 0
  beforeAll(async () => {
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=tiercache test CA',
    )
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    )
    writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'ext',
    )
    const base = await findFreePortRange(2, false)
    tlsPort = base + 1
    servers.push(
      await startRedisServer(base, [
        `tls-port ${tlsPort}`,
        `tls-cert-file ${join(dir, 'server.crt')}`,
        `tls-key-file ${join(dir, 'server.key')}`,
        `tls-ca-cert-file ${join(dir, 'ca.crt')}`,
        'tls-auth-clients no',
      ]),
    )
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('connects when given the CA, and refuses an unverifiable certificate without it', async () => {
    const trusted = await startTestProxy({
      mode: 'standalone',
      redis: `rediss://127.0.0.1:${tlsPort}`,
      tlsCa: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    })
    try {
      expect((await post(trusted.url, '/', ['SET', 'over-tls', 'yes'])).json()).toEqual({ result: 'OK' })
      expect((await post(trusted.url, '/', ['GET', 'over-tls'])).json()).toEqual({ result: 'yes' })
      const lines = await monitorSees(trusted.url, 'tls-monitored')
      expect(lines[0]).toBe('OK')
      expect(lines.some((l) => /"get" "tls-monitored"/i.test(l))).toBe(true)
    } finally {
      await trusted.close('1s')
    }
    const untrusted = await startTestProxy({
      mode: 'standalone',
      redis: `rediss://127.0.0.1:${tlsPort}`,
      readyWait: '500ms',
    })
    try {
      const response = await post(untrusted.url, '/', ['PING'])
      expect(response.status).toBe(503)
      expect(response.json()).toEqual({ error: expect.stringMatching(/certificate/i) })
    } finally {
      await untrusted.close('1s')
    }
  })
})
