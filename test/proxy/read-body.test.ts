/**
 * Which request bodies the proxy refuses for their coding before reading them: node:http undoes
 * `chunked` framing and nothing else (the requests themselves: `bad-input.test.ts`).
 */
import { describe, expect, it } from 'vitest'
import { unsupportedCoding } from '../../src/proxy/read-body.js'

describe('unsupportedCoding', () => {
  it.each([
    [undefined, undefined],
    ['chunked', undefined],
    [' Chunked ', undefined],
    [undefined, 'identity'],
    [undefined, 'IDENTITY, identity'],
    [undefined, ''], // an empty list: nothing applied
    ['', undefined],
  ])('reads Transfer-Encoding %j with Content-Encoding %j', (transfer, content) => {
    expect(unsupportedCoding(transfer, content)).toBeUndefined()
  })

  it.each([
    ['gzip, chunked', undefined, 501],
    ['chunked, chunked', undefined, undefined], // llhttp refuses it before us; nothing for us to undo
    ['deflate', undefined, 501],
    [undefined, 'gzip', 415],
    [undefined, 'identity, br', 415],
    [undefined, 'GZIP', 415],
    ['gzip, chunked', 'gzip', 501], // the framing first
  ])('refuses Transfer-Encoding %j with Content-Encoding %j: %s', (transfer, content, status) => {
    expect(unsupportedCoding(transfer, content)?.status).toBe(status)
  })
})
