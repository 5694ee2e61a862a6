import { MemoryStore } from '../../src/cache/memory-store.js'
import { ManualClock } from '../helpers/clock.js'
import { storeContract } from './store-contract.js'

const clock = new ManualClock()
const store = new MemoryStore(clock.now)
storeContract('memory', () => ({
  store,
  write: (key, text, ttlMs) => store.set(key, text, ttlMs),
  elapse: async (ms) => clock.advance(ms),
}))
