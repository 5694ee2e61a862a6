/**
 * examples/lambda: its handler invoked with the HTTP API (v2) and REST (v1) fixtures, as Lambda
 * would (in-memory tier 2: the example reads UPSTASH_REDIS_REST_URL, unset here).
 */
import { readFileSync } from 'node:fs'
import type { Context } from 'aws-lambda'
import { expect, it } from 'vitest'
import { handler } from '../../examples/lambda/handler.js'

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../adapters/fixtures/lambda/${name}.json`, import.meta.url), 'utf8'))
const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => 10_000 } as unknown as Context

it('answers GET /products/{id}: MISS, then HIT, for v2 and v1 events', async () => {
  for (const name of ['http-api-v2', 'api-gateway-rest-v1']) {
    const first = (await handler(fixture(name), context)) as {
      statusCode: number
      headers: Record<string, string>
      body: string
    }
    const second = (await handler(fixture(name), context)) as typeof first
    expect(first.statusCode).toBe(200)
    // v1 events that carry multiValueHeaders get them back in that form.
    const multi = (second as { multiValueHeaders?: Record<string, string[]> }).multiValueHeaders
    expect(second.headers?.['x-cache'] ?? multi?.['x-cache']?.[0]).toBe('HIT')
    expect(JSON.parse(second.body)).toMatchObject({ id: '42', name: 'product 42' })
  }
})
