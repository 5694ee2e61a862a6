/**
 * The envelope codec, property-based: any JSON value (with Dates anywhere in it) survives
 * encode → decode exactly; what JSON cannot carry is refused, never changed; text that is not an
 * envelope decodes to undefined, never throws.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeEnvelope, encodeEnvelope, utf8Length } from '../../src/cache/envelope.js'
import { UnserializableValueError } from '../../src/errors.js'

// JSON values with valid Dates mixed in, and objects with the key that marks a Date in the
// encoded text (a user's JSON may hold any key: it must come back an object, not a Date).
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.date({ noInvalidDate: true }),
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(
        fc.constant('$tiercache:date'),
        fc.string().filter((k) => k !== '__proto__'),
      ),
      tie('node'),
      { maxKeys: 5 },
    ),
  ),
})).node

describe('envelope codec', () => {
  it('round-trips any JSON value with Dates, exactly (10,000 values)', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 2 ** 40 }), fc.nat(), (v, f, c) => {
        const text = encodeEnvelope('k', { c, v, f, d: 3 })
        expect(text.startsWith('tc1:{"c":')).toBe(true)
        const back = decodeEnvelope(text)
        expect(back).toEqual({ c, v, f, d: 3 })
        expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length)
      }),
      { numRuns: 10_000 },
    )
  })

  it("an object holding the Date marker's key comes back as that object, not a Date", () => {
    const v = {
      fields: { '$tiercache:date': 'pwned', at: new Date(5), gone: undefined },
      list: Object.assign([1, 2], { '$tiercache:date': 'dropped, as JSON drops it' }),
      deep: { '$tiercache:date': { '$tiercache:date': '2020-01-01T00:00:00.000Z' } },
    }
    const back = decodeEnvelope(encodeEnvelope('k', { c: 0, v, f: 1, d: 0 }))?.v
    expect(back).toEqual({
      fields: { '$tiercache:date': 'pwned', at: new Date(5) },
      list: [1, 2],
      deep: { '$tiercache:date': { '$tiercache:date': '2020-01-01T00:00:00.000Z' } },
    })
    expect(Object.keys((back as { fields: object }).fields)).toEqual(['$tiercache:date', 'at'])
  })

  it('refuses what JSON cannot carry, wherever it is, instead of changing it', () => {
    const bad = fc.constantFrom<unknown>(
      10n,
      new Map(),
      new Set([1]),
      () => 1,
      Symbol('s'),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      new Date(Number.NaN),
    )
    fc.assert(
      fc.property(bad, fc.array(fc.string(), { maxLength: 3 }), (b, path) => {
        let v: unknown = b
        for (const key of path) v = { [key || 'x']: v }
        expect(() => encodeEnvelope('k', { c: 0, v: [v], f: 1, d: 0 })).toThrowError(UnserializableValueError)
      }),
      { numRuns: 2000 },
    )
  })

  it('decodes anything that is not an envelope to undefined, never throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `tc1:${s}`),
          fc.json().map((j) => `tc1:${j}`),
        ),
        (text) => {
          const decoded = decodeEnvelope(text)
          if (decoded !== undefined) expect(typeof decoded.f).toBe('number')
        },
      ),
      { numRuns: 10_000 },
    )
  })
})
