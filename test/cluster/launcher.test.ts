/**
 * The local cluster launcher on real redis-server processes (a cluster of its own, so the
 * suite's shared cluster is never disturbed).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterStatus, formatClusterStatus, startCluster, stopCluster } from '../../src/cluster/launcher.js'
import { renderNodeConfig } from '../../src/cluster/node-config.js'
import { InvalidOptionError } from '../../src/errors.js'
import { findFreePortRange, portIsFree } from '../helpers/ports.js'

const dir = mkdtempSync(join(tmpdir(), 'tiercache-launcher-'))
let options: { basePort: number; dir: string }

beforeAll(async () => {
  options = { basePort: await findFreePortRange(6), dir }
})
afterAll(async () => {
  await stopCluster({ ...options, clean: true })
  rmSync(dir, { recursive: true, force: true })
})

describe('options', () => {
  it('refuses nonsense, naming the option', async () => {
    await expect(startCluster({ masters: 2 })).rejects.toThrowError(
      /Invalid option masters: Redis Cluster needs at least 3 masters/,
    )
    await expect(startCluster({ replicas: -1 })).rejects.toThrowError(InvalidOptionError)
    await expect(startCluster({ basePort: 60000 })).rejects.toThrowError(/Invalid option basePort/)
    await expect(startCluster({ timeout: 'soon' as '1s' })).rejects.toThrowError(/Invalid option timeout/)
  })

  it('a missing redis-server says how to install it', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'tiercache-no-redis-'))
    try {
      const basePort = await findFreePortRange(6)
      await expect(
        startCluster({ basePort, dir: elsewhere, redisServer: '/nonexistent/redis-server', timeout: '5s' }),
      ).rejects.toThrowError(
        /^cannot run \/nonexistent\/redis-server: spawn \/nonexistent\/redis-server ENOENT \(not found: install Redis: `sudo apt-get update && sudo apt-get install -y redis-server redis-tools` \(Debian\/Ubuntu\) or `brew install redis` \(macOS\)\)$/,
      )
    } finally {
      rmSync(elsewhere, { recursive: true, force: true })
    }
  })

  it('renders node configs from the shared templates, with the persistence profile on demand', () => {
    const plain = renderNodeConfig({ host: '127.0.0.1', port: 7100, dir: '/tmp/n', persist: false })
    expect(plain).toMatch(/cluster-enabled yes/)
    expect(plain).toMatch(/cluster-node-timeout 2000/)
    expect(plain).toMatch(/^port 7100$/m)
    expect(plain).not.toMatch(/appendonly yes/)
    const persistent = renderNodeConfig({ host: '127.0.0.1', port: 7100, dir: '/tmp/n', persist: true })
    expect(persistent).toMatch(/appendonly yes/)
    expect(persistent).toMatch(/appendfsync everysec/)
    expect(persistent).toMatch(/^save 3600 1 300 100 60 10000$/m)
  })
})

describe('start, status, stop', () => {
  it('starts 3 masters + 3 replicas, healthy, every slot served', async () => {
    const status = await startCluster(options)
    expect(status.healthy).toBe(true)
    expect(status.alreadyRunning).toBe(false)
    expect(status.nodes.filter((n) => n.role === 'master')).toHaveLength(3)
    const replicas = status.nodes.filter((n) => n.role === 'replica')
    expect(replicas).toHaveLength(3)
    expect(replicas.every((r) => r.link === 'up')).toBe(true)
    const slots = status.nodes.flatMap((n) => n.slots).reduce((sum, [a, b]) => sum + b - a + 1, 0)
    expect(slots).toBe(16384)
    expect(formatClusterStatus(status)).toMatch(/^cluster healthy:/)
  })

  it('start on a running cluster reports it and changes nothing', async () => {
    const before = await clusterStatus(options)
    const again = await startCluster(options)
    expect(again.alreadyRunning).toBe(true)
    expect(again.nodes.map((n) => n.pid)).toEqual(before.nodes.map((n) => n.pid))
  })

  it('recovers from a crash: stale pid files are cleared and the node rejoins from nodes.conf', async () => {
    const before = await clusterStatus(options)
    const node = before.nodes[5]!
    process.kill(node.pid!, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 200))
    const pidFile = join(dir, String(node.port), 'redis.pid')
    expect(existsSync(pidFile)).toBe(true) // left behind by the crash
    const down = await clusterStatus(options)
    expect(down.healthy).toBe(false)
    expect(existsSync(pidFile)).toBe(false) // status noticed it was stale
    const after = await startCluster(options)
    expect(after.healthy).toBe(true)
    expect(after.nodes[5]!.pid).not.toBe(node.pid)
    expect(after.nodes[5]!.role).toBe(node.role)
  })

  it('stop ends exactly the processes it started, never a recycled pid', async () => {
    const status = await clusterStatus(options)
    const stopped = await stopCluster(options)
    expect(stopped).toEqual(status.nodes.map((n) => n.port))
    for (const node of status.nodes) expect(() => process.kill(node.pid!, 0)).toThrow()
    expect((await clusterStatus(options)).nodes.every((n) => !n.running)).toBe(true)
    // After a crash and a reboot, a node's pid file may name an unrelated process: leave it alone.
    const bystander = spawn('sleep', ['30'])
    const pidFile = join(dir, String(status.nodes[0]!.port), 'redis.pid')
    writeFileSync(pidFile, String(bystander.pid))
    expect(await stopCluster(options)).toEqual([])
    expect(bystander.exitCode).toBeNull()
    expect(() => process.kill(bystander.pid!, 0)).not.toThrow()
    expect(existsSync(pidFile)).toBe(false) // recognized as stale and removed
    bystander.kill()
  })

  it('refuses to start over ports another process holds, and says which', async () => {
    const squatter = createServer().listen(options.basePort + 2, '127.0.0.1')
    await new Promise((r) => squatter.once('listening', r))
    try {
      await expect(startCluster(options)).rejects.toThrowError(
        new RegExp(
          // The holder named: here, this test's own process.
          `port 127\\.0\\.0\\.1:${options.basePort + 2} is in use by pid ${process.pid} \\(\\S*node\\b[^)]*, in [^)]+\\), not a node of the cluster in `,
        ),
      )
      // Refused before any node started (the two before the taken port were once left running).
      expect((await clusterStatus(options)).nodes.some((n) => n.running)).toBe(false)
      expect(await portIsFree(options.basePort)).toBe(true)
    } finally {
      await new Promise((r) => squatter.close(r))
      expect(await stopCluster(options)).toEqual([])
    }
  })

  it('restarts a fully stopped cluster from its saved state', async () => {
    const status = await startCluster(options)
    expect(status.healthy).toBe(true)
    expect(status.alreadyRunning).toBe(false)
  })
})
