/**
 * The response cache's key, read straight from the URL text: the same as a full URL parse would
 * give (path, query sorted), for any URL the Fetch API can hold.
 */
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { requestKey } from '../../src/http/request-key.js'

function reference(request: Request): string {
  const url = new URL(request.url)
  const params = [...url.searchParams].sort(([a, av], [b, bv]) =>
    a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1,
  )
  const query = new URLSearchParams(params).toString()
  return `${request.method === 'HEAD' ? 'GET' : request.method} ${url.pathname}${query ? `?${query}` : ''}`
}

it('matches a full URL parse for 5,000 generated URLs', () => {
  fc.assert(
    fc.property(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.constantFrom('GET', 'HEAD'),
      (url, method) => {
        const request = new Request(url, { method })
        expect(requestKey(request)).toBe(reference(request))
      },
    ),
    { numRuns: 5000 },
  )
  expect(requestKey(new Request('https://x.test/p?b=2&a=1&a=0#frag'))).toBe('GET /p?a=0&a=1&b=2')
  expect(requestKey(new Request('https://x.test'))).toBe('GET /')
})
