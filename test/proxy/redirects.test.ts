/**
 * MOVED and ASK are followed inside the proxy: a slot is migrated from one master to another by
 * hand (the way `redis-cli --cluster reshard` does it) while the proxy's slot table is stale.
 * Runs on a cluster of its own (it moves slots).
 */
import calculateSlot from 'cluster-key-slot'
import { Redis } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { useOwnCluster } from '../helpers/own-cluster.js'
import { post } from '../helpers/proxy.js'

const own = useOwnCluster('redirects')
const admin: Redis[] = []
afterAll(() => {
  for (const r of admin) r.disconnect()
})

function node(port: number): Redis {
  const redis = new Redis({ port, protocol: 2 })
  admin.push(redis)
  return redis
}

it('follows ASK during a slot migration and MOVED after it, for ordinary and blocking commands', async () => {
  const slot = calculateSlot('redir')
  const masters = own.status.nodes.filter((n) => n.role === 'master')
  const sourceNode = masters.find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b))!
  const targetNode = masters.find((n) => n !== sourceNode)!
  const source = node(sourceNode.port)
  const target = node(targetNode.port)
  const sourceId = String(await source.cluster('MYID'))
  const targetId = String(await target.cluster('MYID'))

  expect((await post(own.proxy.url, '/', ['SET', '{redir}k', 'before'])).json()).toEqual({ result: 'OK' })
  expect((await post(own.proxy.url, '/', ['RPUSH', '{redir}list', 'job'])).json()).toEqual({ result: 1 })

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
  expect((await post(own.proxy.url, '/', ['GET', '{redir}k'])).json()).toEqual({ result: 'before' })
  const pipeline = await post(own.proxy.url, '/pipeline', [
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
  const popped = await post(own.proxy.url, '/', ['BLPOP', '{redir}list', '1'])
  expect(popped.json()).toEqual({ result: ['{redir}list', 'job'] })
  expect((await post(own.proxy.url, '/', ['GET', '{redir}k'])).json()).toEqual({ result: 'before' })
  expect((await post(own.proxy.url, '/', ['SET', '{redir}k', 'after'])).json()).toEqual({ result: 'OK' })
  expect(await target.get('{redir}k')).toBe('after')

  const metrics = await (await fetch(`${own.proxy.url}/metrics`)).text()
  expect(metrics).toMatch(/tiercache_proxy_redirections_total\{kind="followed"\} [1-9]/)
})
