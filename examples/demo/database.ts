/**
 * The demo's source of truth: a product catalogue behind a simulated slow, sometimes failing
 * database (the kind of source a cache is for). Latency and failure rate are configurable.
 */

/** A product row. */
export interface Product {
  id: number
  name: string
  price: number
  updatedAt: string
}

/** How the simulated database behaves. */
export interface DatabaseOptions {
  /** Milliseconds each query takes. @default 80 */
  latencyMs?: number
  /** Share of queries that fail, in [0, 1]. @default 0 */
  failureRate?: number
  /** How many products exist (ids 1..n). @default 1000 */
  products?: number
  /** Uniform numbers in [0, 1) (injected in tests). @default Math.random */
  random?: () => number
}

const NAMES = ['lamp', 'chair', 'desk', 'shelf', 'rug', 'mirror', 'clock', 'vase', 'stool', 'bench']

/** A simulated catalogue database that counts its queries. */
export function createDatabase(options: DatabaseOptions = {}) {
  const { latencyMs = 80, failureRate = 0, products = 1000, random = Math.random } = options
  const rows = new Map<number, Product>()
  for (let id = 1; id <= products; id++) {
    rows.set(id, {
      id,
      name: `${NAMES[id % NAMES.length]} #${id}`,
      price: 10 + ((id * 37) % 490),
      updatedAt: new Date(0).toISOString(),
    })
  }
  const stats = { queries: 0, failures: 0 }
  const query = async <T>(run: () => T): Promise<T> => {
    stats.queries++
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs))
    if (random() < failureRate) {
      stats.failures++
      throw new Error('database unavailable (simulated)')
    }
    return run()
  }
  return {
    stats,
    /** Every product id (to build the guard from the source of truth). */
    ids: () => [...rows.keys()],
    find: (id: number) => query(() => rows.get(id) ?? null),
    list: (offset: number, limit: number) => query(() => [...rows.values()].slice(offset, offset + limit)),
    update: (id: number, change: { price: number }) =>
      query(() => {
        const row = rows.get(id)
        if (!row) return null
        const updated = { ...row, price: change.price, updatedAt: new Date().toISOString() }
        rows.set(id, updated)
        return updated
      }),
  }
}

/** The simulated database. */
export type Database = ReturnType<typeof createDatabase>
