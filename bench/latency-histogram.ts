/** Log-scale buckets, ~2 % wide: enough precision for p50/p99 and small to send as JSON. */
const GROWTH = Math.log(1.02);

/** Latency counts by bucket index (bucket i holds values up to 1.02^(i+1) µs). */
export type LatencyHistogram = Record<string, number>;

/** Adds one latency (milliseconds) to `h`. */
export function record(h: LatencyHistogram, ms: number): void {
  const us = Math.max(1, ms * 1000);
  const key = String(Math.floor(Math.log(us) / GROWTH));
  h[key] = (h[key] ?? 0) + 1;
}

/** Sum of several histograms (rounds of one variant). */
export function merge(histograms: readonly LatencyHistogram[]): LatencyHistogram {
  const out: LatencyHistogram = {};
  for (const h of histograms) for (const [k, n] of Object.entries(h)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** The `p`-th percentile in milliseconds (upper bound of its bucket), NaN when empty. */
export function percentile(h: LatencyHistogram, p: number): number {
  const entries = Object.entries(h)
    .map(([k, n]) => [Number(k), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return NaN;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const [k, n] of entries) {
    seen += n;
    if (seen >= rank) return Math.exp((k + 1) * GROWTH) / 1000;
  }
  return NaN;
}
