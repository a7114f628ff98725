/** One measured case: an async operation run back to back. */
export interface BenchCase {
  name: string;
  run: () => unknown;
}

/** Result of one case over every round. */
export interface BenchResult {
  name: string;
  ops: number;
  opsPerSec: number;
  usPerOp: number;
}

async function timeRound(c: BenchCase, ms: number): Promise<{ ops: number; ns: bigint }> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let ops = 0;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i++) await c.run();
    ops += 64;
    now = process.hrtime.bigint();
  }
  return { ops, ns: now - start };
}

/**
 * Runs the cases in alternating rounds (A B C A B C …) so machine drift spreads over all
 * of them, after a warm-up round each. Prints nothing; returns totals per case.
 */
export async function runAlternating(
  cases: BenchCase[],
  options: { rounds?: number; msPerRound?: number } = {},
): Promise<BenchResult[]> {
  const rounds = options.rounds ?? 5;
  const ms = options.msPerRound ?? 300;
  for (const c of cases) await timeRound(c, Math.min(ms, 200));
  const totals = cases.map(() => ({ ops: 0, ns: 0n }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) {
      const { ops, ns } = await timeRound(c, ms);
      totals[i]!.ops += ops;
      totals[i]!.ns += ns;
    }
  }
  return cases.map((c, i) => {
    const t = totals[i]!;
    const seconds = Number(t.ns) / 1e9;
    return {
      name: c.name,
      ops: t.ops,
      opsPerSec: t.ops / seconds,
      usPerOp: (seconds * 1e6) / t.ops,
    };
  });
}

/** Formats a results table with a ratio column against `baseline`. */
export function formatTable(title: string, results: BenchResult[], baseline: string): string {
  const base = results.find((r) => r.name === baseline);
  const rows = results.map((r) => {
    const ratio = base ? r.opsPerSec / base.opsPerSec : NaN;
    return `  ${r.name.padEnd(46)} ${r.opsPerSec.toFixed(0).padStart(10)} ops/s ${r.usPerOp.toFixed(2).padStart(9)} µs/op ${ratio.toFixed(2).padStart(7)}×`;
  });
  return [`${title} (ratio vs "${baseline}")`, ...rows].join('\n');
}
