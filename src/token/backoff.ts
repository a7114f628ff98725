/**
 * Retry delay after `attempt` consecutive failures (1 = first failure): a random value
 * between `minMs` and an exponentially growing ceiling (`minMs · 2^(attempt-1)`, capped at
 * `maxMs`), so a fleet of sidecars does not retry an AS in step.
 *
 * @param random a number in [0, 1), for tests; default `Math.random()`
 * @returns a delay in ms, always within [minMs, maxMs]
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: number = Math.random(),
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(maxMs, minMs * 2 ** exponent);
  return Math.round(minMs + (ceiling - minMs) * random);
}
