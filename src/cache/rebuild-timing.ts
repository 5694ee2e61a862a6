/**
 * Timing of rebuilds across instances: how losers poll for the winner's fill, and how long a
 * failing refresh of a hot key may be held back.
 */

/**
 * How a caller that lost the rebuild race polls for the fill: backoff from 10 ms, capped at 100 ms.
 * In-process single flight means one poller per instance and key; the cap trades a little tier-2
 * traffic for latency (measured with bench/stampede: a 200 ms cap added ~75 ms to p50).
 */
export const POLL_BASE_MS = 10
export const POLL_MAX_MS = 100

/** The longest a hot key's failing refresh is held back (it has no grace to bound it). */
export const HOT_KEY_MAX_BACKOFF_MS = 3_600_000
