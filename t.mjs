import { Cluster, Redis } from 'ioredis'
for (const auto of [false, true]) {
  const c = new Cluster([{ host: '127.0.0.1', port: 7000 }], { enableAutoPipelining: auto, redisOptions: { protocol: 2 } })
  try { console.log(auto, await c.callBuffer('set', 'a', 'v'), await c.callBuffer('get', 'a')) } catch (e) { console.log(auto, 'ERR', e.message) }
  c.disconnect()
}
