/**
 * Invokes examples/lambda/handler.ts twice with an HTTP API (payload v2) event, as Lambda would:
 * the first answer is a MISS, the second a HIT from the cache.
 */
import { handler } from './handler.js'

const event = {
  version: '2.0',
  routeKey: 'GET /products/{id}',
  rawPath: '/products/42',
  rawQueryString: '',
  headers: { host: 'example.execute-api.eu-west-1.amazonaws.com', accept: 'application/json' },
  requestContext: {
    domainName: 'example.execute-api.eu-west-1.amazonaws.com',
    http: {
      method: 'GET',
      path: '/products/42',
      protocol: 'HTTP/1.1',
      sourceIp: '127.0.0.1',
      userAgent: 'invoke',
    },
    requestId: 'local',
    routeKey: 'GET /products/{id}',
    stage: '$default',
    timeEpoch: Date.now(),
  },
  pathParameters: { id: '42' },
  isBase64Encoded: false,
}
const context = {
  awsRequestId: 'local',
  functionName: 'example',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as import('aws-lambda').Context

for (let i = 0; i < 2; i++) {
  const result = (await handler(event, context)) as {
    statusCode: number
    headers: Record<string, string>
    body: string
  }
  console.log(result.statusCode, result.headers['x-cache'], result.body)
}
