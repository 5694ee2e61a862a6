/**
 * MOVED and ASK are followed inside the proxy: a slot is migrated from one master to another by
 * hand (the way `redis-cli --cluster reshard` does it) while the proxy's slot table is stale.
 * Runs on a cluster of its own (it moves slots).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import calculateSlot from 'cluster-key-slot'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type ClusterStatus, startCluster, stopCluster } from '../../src/cluster/launcher.js'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { findFreePortRange } from '../helpers/ports.js'
import { post, startTestProxy } from '../helpers/proxy.js'

const dir = mkdtempSync(join(tmpdir(), 'tiercache-redirects-'))
let options: { basePort: number; dir: string }
let status: ClusterStatus
let proxy: RunningProxy
const admin: Redis[] = []

beforeAll(async () => {
  options = { basePort: await findFreePortRange(6), dir }
  status = await startCluster(options)
  proxy = await startTestProxy({ redis: `redis://127.0.0.1:${options.basePort}` })
})
afterAll(async () => {
  for (const r of admin) r.disconnect()
  await proxy?.close('1s')
  await stopCluster({ ...options, clean: true })
  rmSync(dir, { recursive: true, force: true })
})

function node(port: number): Redis {
  const redis = new Redis({ port, protocol: 2 })
  admin.push(redis)
  return redis
}

it('follows ASK during a slot migration and MOVED after it, for ordinary and blocking commands', async () => {
  const slot = calculateSlot('redir')
  const masters = status.nodes.filter((n) => n.role === 'master')
  const sourceNode = masters.find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b))!
  const targetNode = masters.find((n) => n !== sourceNode)!
  const source = node(sourceNode.port)
  const target = node(targetNode.port)
  const sourceId = String(await source.cluster('MYID'))
  const targetId = String(await target.cluster('MYID'))

  expect((await post(proxy.url, '/', ['SET', '{redir}k', 'before'])).json()).toEqual({ result: 'OK' })
  expect((await post(proxy.url, '/', ['RPUSH', '{redir}list', 'job'])).json()).toEqual({ result: 1 })

  // Migration in progress: the slot is MIGRATING on the source, IMPORTING on the target, and the
  // key has already moved. The source now answers ASK for it.
  await target.cluster('SETSLOT', slot, 'IMPORTING', sourceId)
  await source.cluster('SETSLOT', slot, 'MIGRATING', targetId)
  await source.call(
    'MIGRATE',
    '127.0.0.1',
    String(targetNode.port),
    '',
    '0',
    '5000',
    'KEYS',
    '{redir}k',
    '{redir}list',
  )
  await expect(source.get('{redir}k')).rejects.toThrow(/^ASK /)
  expect((await post(proxy.url, '/', ['GET', '{redir}k'])).json()).toEqual({ result: 'before' })
  const pipeline = await post(proxy.url, '/pipeline', [
    ['GET', '{redir}k'],
    ['SET', '{redir}new', 'written during the migration'],
  ])
  expect(pipeline.json()).toEqual([{ result: 'before' }, { result: 'OK' }])
  expect(await target.call('ASKING').then(() => target.get('{redir}new'))).toBe(
    'written during the migration',
  )

  // Migration done: every master learns the slot's new owner; the proxy's table is stale.
  for (const master of masters) await node(master.port).cluster('SETSLOT', slot, 'NODE', targetId)
  await expect(source.get('{redir}k')).rejects.toThrow(/^MOVED /)

  // A blocking command first: its dedicated connection goes to the stale owner, gets MOVED, follows.
  const popped = await post(proxy.url, '/', ['BLPOP', '{redir}list', '1'])
  expect(popped.json()).toEqual({ result: ['{redir}list', 'job'] })
  expect((await post(proxy.url, '/', ['GET', '{redir}k'])).json()).toEqual({ result: 'before' })
  expect((await post(proxy.url, '/', ['SET', '{redir}k', 'after'])).json()).toEqual({ result: 'OK' })
  expect(await target.get('{redir}k')).toBe('after')

  const metrics = await (await fetch(`${proxy.url}/metrics`)).text()
  expect(metrics).toMatch(/tiercache_proxy_redirections_total\{kind="followed"\} [1-9]/)
})
