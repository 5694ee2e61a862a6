/**
 * The stampede goal, with real OS processes on the real cluster through the proxy: 4 processes ×
 * 250 concurrent getOrLoad of one cold key whose loader takes 200 ms → the loader runs exactly
 * once in total, and every caller gets its value.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/proxy.js'
import { startTestProxy, TOKENS } from '../helpers/proxy.js'

let proxy: RunningProxy
beforeAll(async () => {
  proxy = await startTestProxy({ redis: inject('clusterUrl') })
})
afterAll(() => proxy.close('1s'))

function worker(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('node_modules/.bin/tsx', ['test/cache/fixtures/stampede-worker.ts', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c
    })
    child.on('exit', (code) => resolve({ code, out }))
  })
}

it('4 processes × 250 concurrent getOrLoad of one cold key: one loader call in all', {
  timeout: 60_000,
}, async () => {
  const key = `stampede:${randomUUID()}`
  const counter = `stampede-loads:${randomUUID()}`
  // Process start-up (tsx) takes a while: meet at an instant well after it.
  const startAt = String(Date.now() + 4000)
  const runs = await Promise.all(
    Array.from({ length: 4 }, () => worker([proxy.url, TOKENS.standard, key, counter, startAt])),
  )
  const reports = runs.map((r) => {
    expect(r.code).toBe(0)
    return JSON.parse(r.out) as { correct: number; stats: { loads: number; rebuildWaits: number } }
  })
  expect(reports.map((r) => r.correct)).toEqual([250, 250, 250, 250])
  const redis = new Redis({ url: proxy.url, token: TOKENS.standard })
  expect(await redis.get(counter)).toBe(1)
  expect(reports.reduce((sum, r) => sum + r.stats.loads, 0)).toBe(1)
  expect(reports.filter((r) => r.stats.rebuildWaits === 1)).toHaveLength(3) // the other three waited
})
