import { merge, percentile } from './latency-histogram.js';
import type { LoadResult } from './load-result.js';
import { cpuSecondsOf, spawnTs } from './processes.js';

/** One side of an A/B comparison: which generator, and its spec for a run. */
export interface LoadVariant {
  name: string;
  /** `./load-generator.ts` (HTTPS) or `./grpc-load-generator.ts`. */
  generator: './load-generator.ts' | './grpc-load-generator.ts';
  /** The generator's spec; `startIndex` continues the token round-robin across runs. */
  spec(run: { startIndex: number; durationMs: number; warmupMs: number }): object;
  /** Server-side processes of this variant (proxy and app): their CPU time is measured. */
  serverPids: readonly number[];
}

/** Totals of one variant over every measured round. */
export interface VariantResult {
  name: string;
  requests: number;
  errors: number;
  non2xx: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * CPU time all server-side processes used per answered request, in µs: read around each
   * whole generator run, so divided by every request of the run, its warm-up included.
   */
  serverCpuUsPerRequest: number;
  /** Mean CPU use of the load generator, % of one core. */
  generatorCpuPercent: number;
  /** Requests/s of each round, to show the spread. */
  roundsRps: number[];
  firstError?: string;
}

/** Shape of a measurement: rounds × round length, and the load generator's CPU. */
export interface RoundOptions {
  rounds: number;
  roundMs: number;
  /** One unmeasured run per variant before the rounds (servers' JIT, caches, pools). */
  warmupMs: number;
  /** Unmeasured load at the start of every run (the generator is a fresh process). */
  runWarmupMs: number;
  cpu: number | undefined;
  /** Called before each run with the round (0 = warm-up) and the variant's index. */
  onRun?: (round: number, variant: number) => void;
}

async function runOnce(
  variant: LoadVariant,
  startIndex: number,
  durationMs: number,
  options: RoundOptions,
): Promise<LoadResult> {
  const warmupMs = options.runWarmupMs;
  const spec = variant.spec({ startIndex, durationMs, warmupMs });
  const timeout = warmupMs + durationMs + 60_000;
  const gen = await spawnTs<LoadResult>(variant.generator, spec, options.cpu, timeout);
  await new Promise<void>((resolve) => {
    if (gen.child.exitCode !== null) resolve();
    else gen.child.once('exit', () => resolve());
  });
  return gen.first;
}

/**
 * Measures the variants in alternating rounds (A B C, A B C, …) after one warm-up run
 * each, so that drift of a shared machine spreads over all of them equally. Each run is a
 * fresh load-generator process; rps is total requests over total seconds.
 */
export async function runRounds(
  variants: readonly LoadVariant[],
  options: RoundOptions,
): Promise<VariantResult[]> {
  const next = variants.map(() => 0);
  const runs: LoadResult[][] = variants.map(() => []);
  const serverCpu = variants.map(() => 0);
  const cpuOf = (pids: readonly number[]): number =>
    pids.reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? NaN), 0);
  const step = async (i: number, durationMs: number): Promise<LoadResult> => {
    const v = variants[i]!;
    const r = await runOnce(v, next[i]!, durationMs, options);
    next[i] = r.nextIndex;
    return r;
  };
  for (let i = 0; i < variants.length; i++) {
    options.onRun?.(0, i);
    await step(i, options.warmupMs);
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const [i, v] of variants.entries()) {
      options.onRun?.(round, i);
      const cpu0 = cpuOf(v.serverPids);
      runs[i]!.push(await step(i, options.roundMs));
      serverCpu[i] = serverCpu[i]! + cpuOf(v.serverPids) - cpu0;
    }
  }
  return variants.map((v, i) => {
    const rs = runs[i]!;
    const requests = rs.reduce((s, r) => s + r.requests, 0);
    const answeredWithWarmup = rs.reduce((s, r) => s + r.requests + r.warmupRequests, 0);
    const seconds = rs.reduce((s, r) => s + r.seconds, 0);
    const hist = merge(rs.map((r) => r.hist));
    const firstError = rs.find((r) => r.firstError !== undefined)?.firstError;
    return {
      name: v.name,
      requests,
      errors: rs.reduce((s, r) => s + r.errors, 0),
      non2xx: rs.reduce((s, r) => s + r.non2xx, 0),
      seconds,
      rps: requests / seconds,
      p50Ms: percentile(hist, 50),
      p99Ms: percentile(hist, 99),
      serverCpuUsPerRequest: (serverCpu[i]! * 1e6) / answeredWithWarmup,
      generatorCpuPercent: rs.reduce((s, r) => s + r.cpuPercent, 0) / rs.length,
      roundsRps: rs.map((r) => r.rps),
      ...(firstError !== undefined ? { firstError } : {}),
    };
  });
}
