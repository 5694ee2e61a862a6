/** The benchmarks' summary of repeated rounds or processes. */

/** The median of `xs` (the mean of the middle two for an even count); `xs` is left as it is. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values')
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
