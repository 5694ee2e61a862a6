/**
 * What node:http itself allows one Node process, in the proxy benchmark: a bare node:http server
 * that reads a `POST /` body, parses it, sends the command through one auto-pipelined ioredis
 * client and answers `{"result": ...}`, with no token, no checks, no metrics, no deadline and no
 * logs. The proxy on its node:http front does this and its checks; its raw front (the default)
 * skips node:http's request and response objects, which is how it gets past this server.
 * argv: port, Redis port. Prints "ready" when listening.
 */
import { createServer } from 'node:http'
import { Redis } from 'ioredis'

const [port, redisPort] = process.argv.slice(2).map(Number) as [number, number]
const redis = new Redis({ port: redisPort, host: '127.0.0.1', protocol: 2, enableAutoPipelining: true })

createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    let command: [string, ...string[]]
    try {
      command = JSON.parse(Buffer.concat(chunks).toString('utf8')) as [string, ...string[]]
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' })
      response.end('{"error":"the body is not JSON"}')
      return
    }
    const [name, ...args] = command
    redis.call(name, ...args).then(
      (result) => {
        const body = JSON.stringify({ result })
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        })
        response.end(body)
      },
      (error: Error) => {
        response.writeHead(400, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ error: error.message }))
      },
    )
  })
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => process.exit(0))
