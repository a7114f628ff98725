import { join } from 'node:path';
import type { BenchEnv } from './bench-env.js';
import { ROOT } from './processes.js';
import { startSidecarUnderTest } from './sidecar-launch.js';

/** Spawn → `/readyz` 200 of one way of running the CLI, over alternating starts. */
export interface StartupResult {
  name: string;
  cli: string;
  /** Every start, in ms, in the order measured. */
  readyMs: number[];
  medianMs: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Time to readiness of the one-file bundle the image runs (`dist/certbound.mjs`) and of the
 * compiled module tree (`dist/src/cli/main.js`), started alternately `starts` times each with
 * the bench config (mTLS inbound, JWKS from a file), pinned to the servers' CPU. A single
 * start on a shared machine is noisy: the median is the figure.
 */
export async function benchStartup(
  env: BenchEnv,
  appUrl: string,
  cpu: number | undefined,
  starts = 5,
): Promise<StartupResult[]> {
  const ways = [
    { name: 'bundle (dist/certbound.mjs)', cli: join(ROOT, 'dist', 'certbound.mjs') },
    {
      name: 'module tree (dist/src/cli/main.js)',
      cli: join(ROOT, 'dist', 'src', 'cli', 'main.js'),
    },
  ];
  const times = ways.map((): number[] => []);
  for (let i = 0; i < starts; i++) {
    for (const [w, way] of ways.entries()) {
      const s = await startSidecarUnderTest(env, {
        name: `startup-${w}-${i}`,
        appUrl,
        logLevel: 'warn',
        cpu,
        cli: way.cli,
      });
      times[w]!.push(s.readyMs);
      await s.stop();
    }
  }
  return ways.map((way, w) => ({ ...way, readyMs: times[w]!, medianMs: median(times[w]!) }));
}
