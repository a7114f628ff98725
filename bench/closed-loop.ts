import { percentile, record, type LatencyHistogram } from './latency-histogram.js';
import type { LoadResult } from './load-result.js';

/** Counters of one measured phase, filled by the generator's `one()` callback. */
export interface LoadCounters {
  hist: LatencyHistogram;
  n: number;
  errors: number;
  non2xx: number;
  firstError: string | undefined;
  /** Records one answered request that started at `t0` (process.hrtime.bigint()). */
  answered(t0: bigint): void;
}

function counters(): LoadCounters {
  const c: LoadCounters = {
    hist: {},
    n: 0,
    errors: 0,
    non2xx: 0,
    firstError: undefined,
    answered(t0) {
      record(c.hist, Number(process.hrtime.bigint() - t0) / 1e6);
      c.n++;
    },
  };
  return c;
}

/**
 * The loop both load generators share: `concurrency` workers each send one request after
 * the other (`one` resolves when it is answered or failed) — an unmeasured warm-up phase,
 * then the measured phase — and the result line with throughput, latencies and own CPU.
 *
 * @param one sends one request and updates the counters it is given
 * @param nextIndex the token round-robin position after the run
 */
export async function runClosedLoop(
  spec: { concurrency: number; durationMs: number; warmupMs?: number },
  one: (c: LoadCounters) => Promise<void>,
  nextIndex: () => number,
): Promise<LoadResult> {
  let c = counters();
  const phase = (ms: number): Promise<unknown> => {
    const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
    return Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (process.hrtime.bigint() < deadline) await one(c);
      }),
    );
  };
  if ((spec.warmupMs ?? 0) > 0) await phase(spec.warmupMs!);
  const warmupRequests = c.n;
  c = counters();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await phase(spec.durationMs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return {
    requests: c.n,
    warmupRequests,
    errors: c.errors,
    non2xx: c.non2xx,
    seconds,
    rps: c.n / seconds,
    p50Ms: percentile(c.hist, 50),
    p99Ms: percentile(c.hist, 99),
    hist: c.hist,
    nextIndex: nextIndex(),
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    ...(c.firstError !== undefined ? { firstError: c.firstError } : {}),
  };
}
