/**
 * No Docker engine runs here, so the compose example is checked by reading it: the topology the
 * issue names, the shared config templates, persistent volumes, the one-shot init, the proxy.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

interface Service {
  image?: string
  command?: string
  entrypoint?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  build?: { context: string; dockerfile: string }
  restart?: string
}

const compose = parse(readFileSync('examples/cluster/docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}
const nodes = Object.entries(compose.services).filter(([name]) => /^redis-\d$/.test(name))

describe('examples/cluster/docker-compose.yml', () => {
  it('runs six Redis 7 nodes on the shared config templates, each with a persistent volume', () => {
    expect(nodes).toHaveLength(6)
    for (const [name, node] of nodes) {
      expect(node.image).toBe('redis:7.0')
      expect(node.command).toContain('redis-server /etc/redis/cluster-node.conf')
      expect(node.command).toContain('--include /etc/redis/persist.conf')
      expect(node.volumes).toContain(`${name}:/data`)
      expect(node.volumes).toContain('./conf:/etc/redis:ro')
      expect(node.environment?.NODE_NAME).toBe(name)
      expect(compose.volumes).toHaveProperty(name)
    }
  })

  it('creates the cluster once: three masters, then a replica attached to each', () => {
    const init = compose.services['cluster-init']!
    expect(init.restart).toBe('no')
    expect(Object.keys(init.depends_on ?? {})).toEqual(nodes.map(([name]) => name))
    const script = readFileSync('examples/cluster/init-cluster.sh', 'utf8')
    expect(script).toMatch(
      /--cluster create "\$\(ip redis-1\):6379" "\$\(ip redis-2\):6379" "\$\(ip redis-3\):6379" --cluster-yes/,
    )
    expect(script).toMatch(/for pair in "redis-4 redis-1" "redis-5 redis-2" "redis-6 redis-3"/)
    expect(script).toMatch(/--cluster-slave --cluster-master-id/)
    expect(script).toMatch(/cluster_slots_assigned:16384/) // idempotent
  })

  it('runs the proxy after the init, against the cluster, with its token from the environment', () => {
    const proxy = compose.services.proxy!
    expect(proxy.depends_on?.['cluster-init']?.condition).toBe('service_completed_successfully')
    expect(proxy.environment?.TIERCACHE_MODE).toBe('cluster')
    expect(proxy.environment?.TIERCACHE_REDIS_URL).toBe('redis://redis-1:6379,redis-2:6379,redis-3:6379')
    expect(proxy.environment?.TIERCACHE_TOKEN).toMatch(/TIERCACHE_TOKEN/)
    expect(proxy.build).toEqual({ context: '../..', dockerfile: 'examples/cluster/Dockerfile' })
  })

  it('uses the same templates the local launcher renders', () => {
    const template = readFileSync('examples/cluster/conf/cluster-node.conf', 'utf8')
    expect(template).toMatch(/^cluster-enabled yes$/m)
    expect(template).toMatch(/^cluster-node-timeout 2000$/m)
    expect(template).toMatch(/^repl-diskless-sync-delay 0$/m)
  })
})
