import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { readTokensFile } from '../../src/cli/proxy-command.js'
import { InvalidOptionError } from '../../src/errors.js'
import { type CommandArgs, describeCommand } from '../../src/proxy/command-table.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { authorize, TokenStore } from '../../src/proxy/tokens.js'
import { post, startTestProxy, TOKENS, upstashClient } from '../helpers/proxy.js'

let proxy: RunningProxy
const ns = `tok-${Date.now()}`
const as = (token: string) => ({ authorization: `Bearer ${token}` })

beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
  await post(proxy.url, '/', ['SET', `${ns}:k`, 'v'])
  await post(proxy.url, '/', ['SET', 'tenant-a:k', 'mine'])
})
afterAll(() => proxy.close('1s'))

describe('read-only tokens', () => {
  it('read commands pass; writes, SCAN and KEYS are refused with 403', async () => {
    const ro = upstashClient(proxy.url, TOKENS.readonly)
    expect(await ro.get(`${ns}:k`)).toBe('v')
    expect(await ro.exists(`${ns}:k`)).toBe(1)
    expect(await ro.ping()).toBe('PONG')
    for (const command of [
      ['SET', `${ns}:k`, 'x'],
      ['DEL', `${ns}:k`],
      ['EVAL', 'return 1', '0'],
      ['SCAN', '0'],
      ['KEYS', '*'],
      ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', `${ns}:s`, '>'],
    ]) {
      const response = await post(proxy.url, '/', command, as(TOKENS.readonly))
      expect(response.status, command.join(' ')).toBe(403)
      expect(response.json()).toEqual({ error: expect.stringMatching(/^NOPERM this token is read-only/) })
    }
    // A pipeline with one write among reads is refused whole.
    const mixed = await post(
      proxy.url,
      '/pipeline',
      [
        ['GET', `${ns}:k`],
        ['SET', `${ns}:k`, 'x'],
      ],
      as(TOKENS.readonly),
    )
    expect(mixed.status).toBe(403)
    expect(await upstashClient(proxy.url).get(`${ns}:k`)).toBe('v')
  })

  it('EVAL_RO passes: Redis itself refuses writes inside it', async () => {
    const response = await post(
      proxy.url,
      '/',
      ['EVAL_RO', 'return redis.call("GET", KEYS[1])', '1', `${ns}:k`],
      as(TOKENS.readonly),
    )
    expect(response.json()).toEqual({ result: 'v' })
  })
})

describe('prefixed tokens', () => {
  it('touch only keys with their prefix', async () => {
    const tenant = upstashClient(proxy.url, TOKENS.prefixed)
    expect(await tenant.get('tenant-a:k')).toBe('mine')
    expect(await tenant.set('tenant-a:new', 1)).toBe('OK')
    for (const command of [
      ['GET', `${ns}:k`],
      ['MGET', 'tenant-a:k', `${ns}:k`],
      ['RENAME', 'tenant-a:k', 'elsewhere'],
      ['SCAN', '0'],
      ['KEYS', 'tenant-a:*'],
      ['RANDOMKEY'],
      ['EVAL', 'return redis.call("GET", "other")', '1', 'tenant-a:k'],
      ['SORT', 'tenant-a:list', 'BY', 'other:*'],
      ['PUBLISH', 'other-channel', 'x'],
      ['NOSUCHCOMMAND', 'tenant-a:k'],
      ['INFO'],
    ]) {
      const response = await post(proxy.url, '/', command, as(TOKENS.prefixed))
      expect(response.status, command.join(' ')).toBe(403)
      expect(response.json()).toEqual({ error: expect.stringMatching(/^NOPERM/) })
    }
    expect((await post(proxy.url, '/', ['PUBLISH', 'tenant-a:chan', 'x'], as(TOKENS.prefixed))).status).toBe(
      200,
    )
    const sub = await fetch(`${proxy.url}/subscribe/other-channel`, {
      method: 'POST',
      headers: as(TOKENS.prefixed),
    })
    expect(sub.status).toBe(403)
  })

  it('a prefixed token may run scripts only when allowed, and then only on its declared keys', async () => {
    const store = new TokenStore([
      { token: 'with', prefix: 'p:', scripts: true },
      { token: 'without', prefix: 'p:' },
    ])
    const check = (token: string, command: CommandArgs) => () =>
      authorize(store.authenticate(token), command, describeCommand(command))
    expect(check('with', ['EVAL', 'return 1', '2', 'p:a', 'p:b'])).not.toThrow()
    expect(check('with', ['EVALSHA', 'abc', '2', 'p:a', 'q:b'])).toThrowError(/outside this token's prefix/)
    expect(check('with', ['EVAL', 'return 1', '0'])).toThrowError(/names no key/)
    expect(check('without', ['EVAL', 'return 1', '1', 'p:a'])).toThrowError(
      /scripts may reach undeclared keys/,
    )
  })
})

describe('admin tokens and dangerous commands', () => {
  it('CONFIG GET and SCRIPT FLUSH need the admin token', async () => {
    expect((await post(proxy.url, '/', ['CONFIG', 'GET', 'maxmemory'])).status).toBe(403)
    const admin = await post(proxy.url, '/', ['CONFIG', 'GET', 'maxmemory'], as(TOKENS.admin))
    expect(admin.status).toBe(200)
    expect(admin.json()).toEqual({ result: ['maxmemory', '0'] })
    expect((await post(proxy.url, '/', ['SCRIPT', 'FLUSH'])).status).toBe(403)
    expect((await post(proxy.url, '/', ['SCRIPT', 'LOAD', 'return 1'])).status).toBe(200)
  })
})

describe('token configuration', () => {
  it('refuses an empty list, an empty token and an unknown kind, naming the option', () => {
    expect(() => new TokenStore([])).toThrowError(InvalidOptionError)
    expect(() => new TokenStore([])).toThrowError(/Invalid option tokens: at least one token/)
    expect(() => new TokenStore([{ token: '' }])).toThrowError(/token 0 is empty/)
    expect(() => new TokenStore([{ token: 'x', kind: 'root' as 'admin' }])).toThrowError(
      /unknown kind "root"/,
    )
  })

  it('matches a token exactly: no prefix, extension, padding, case or truncation passes', () => {
    const long = 'L'.repeat(300)
    const store = new TokenStore([
      { token: 'secret-standard' },
      { token: 'ключ-ü-🔑', kind: 'readonly' },
      { token: long, kind: 'admin' },
    ])
    expect(store.authenticate('secret-standard').kind).toBe('standard')
    expect(store.authenticate('ключ-ü-🔑').kind).toBe('readonly')
    expect(store.authenticate(long).kind).toBe('admin')
    const near = [
      'secret-standar',
      'secret-standardx',
      'secret-standard\0',
      'secret-standard\0\0\0\0\0\0\0\0\0\0\0\0',
      'SECRET-STANDARD',
      ' secret-standard',
      'ключ-ü-🔑\0',
      'ключ-ü-',
      'ключ-ü-\uD83D',
      `${long}L`,
      `${long}${'\0'.repeat(50)}`,
      long.slice(1),
      'L'.repeat(100_000),
      'x',
    ]
    for (const token of near) {
      expect(() => store.authenticate(token), JSON.stringify(token.slice(0, 40))).toThrowError(
        /invalid token/,
      )
    }
    expect(() => store.authenticate(undefined)).toThrowError(/missing token/)
  })

  it('reads a tokens file, and names it when it is malformed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiercache-tokens-'))
    const good = join(dir, 'tokens.json')
    writeFileSync(good, JSON.stringify([{ token: 'a', kind: 'readonly', prefix: 'x:' }]))
    expect(readTokensFile(good)).toEqual([{ token: 'a', kind: 'readonly', prefix: 'x:' }])
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{"token": "a"}')
    expect(() => readTokensFile(bad)).toThrowError(/Invalid option --tokens-file/)
    expect(() => readTokensFile(join(dir, 'missing.json'))).toThrowError(/cannot read/)
    // Saved with a byte-order mark (as some Windows editors do): read, not refused as "not JSON".
    const bom = join(dir, 'bom.json')
    writeFileSync(bom, `\uFEFF${JSON.stringify([{ token: 'b' }])}`)
    expect(readTokensFile(bom)).toEqual([{ token: 'b' }])
    const comma = join(dir, 'comma.json')
    writeFileSync(comma, '[{"token": "a",}]')
    expect(() => readTokensFile(comma)).toThrowError(
      /^Invalid option --tokens-file: .*comma\.json is not JSON: /,
    )
    // An entry is checked where it stands in the file, before the proxy starts.
    const misspelt = join(dir, 'misspelt.json')
    writeFileSync(misspelt, JSON.stringify([{ token: 'a' }, { token: 'b', perfix: 'tenant-a:' }]))
    expect(() => readTokensFile(misspelt)).toThrowError(
      new RegExp(
        `^Invalid option --tokens-file: ${misspelt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} entry 1 has an unknown field "perfix"`,
      ),
    )
  })

  it('refuses what would grant more than meant: a misspelt field, an empty prefix, a prefixed admin, a token twice', () => {
    const cases: Array<[unknown[], RegExp]> = [
      [
        [{ token: 'a', perfix: 't:' }],
        /^Invalid option tokens: token 0 has an unknown field "perfix" \(token, kind, prefix, scripts\)$/,
      ],
      [
        [{ token: 'a', prefix: '' }],
        /^Invalid option tokens: token 0 has prefix "": a prefix is a non-empty string \(leave it out for none\)$/,
      ],
      [[{ token: 'a', prefix: 5 }], /token 0 has prefix 5: a prefix is a non-empty string/],
      [
        [{ token: 'a', kind: 'admin', prefix: 't:' }],
        /^Invalid option tokens: token 0 is an admin token with a prefix: admin tokens are never limited$/,
      ],
      [[{ token: 'a', prefix: 't:', scripts: 'yes' }], /token 0 has scripts "yes": true or false$/],
      [
        [{ token: 'a' }, { token: 'b' }, { token: 'a', kind: 'readonly' }],
        /^Invalid option tokens: token 2 is token 0 again: each token must be unique$/,
      ],
      [['a'], /^Invalid option tokens: token 0 must be an object: \{ token, kind\?, prefix\?, scripts\? \}$/],
    ]
    for (const [specs, message] of cases) expect(() => new TokenStore(specs as never)).toThrowError(message)
    // What passes: a prefix with scripts, a read-only prefix, an admin with none.
    expect(
      () =>
        new TokenStore([
          { token: 'a', prefix: 't:', scripts: true },
          { token: 'b', kind: 'readonly', prefix: 'r:' },
          { token: 'c', kind: 'admin' },
        ]),
    ).not.toThrow()
  })
})
