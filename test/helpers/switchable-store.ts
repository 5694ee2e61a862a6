/**
 * A tier-2 store that can be taken down and brought back: while `down` is set, every call fails
 * as an unreachable Redis would. Wraps any store (the in-memory one in these tests).
 */
import type { TierTwoStore } from '../../src/cache/store.js'

/** The wrapped store and its switch. */
export interface SwitchableStore<S extends TierTwoStore> {
  store: S
  /** Set it to make every call fail; clear it to bring the store back. */
  down: boolean
}

/** Wraps `inner` so that its calls fail while `down` is set. */
export function switchable<S extends TierTwoStore>(inner: S): SwitchableStore<S> {
  const state = { down: false } as SwitchableStore<S>
  state.store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        if (state.down) throw new Error('tier 2 unreachable')
        return value.apply(target, args)
      }
    },
  })
  return state
}
