import { readFile } from 'node:fs/promises';
import { churnConnections } from '../test/support/connection-churn.js';
import type { BenchEnv } from './bench-env.js';
import { memoryOf } from './processes.js';

const WARM_UP = 1_000;
/** Connections measured; the figure is reported per 10 000. */
const MEASURED = Number(process.env['BENCH_CHURN_CONNECTIONS'] ?? 10_000);

/** What {@link benchConnectionChurn} measured. */
export interface ChurnResult {
  connections: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Resident-set growth scaled to 10 000 new connections, in MiB. */
  growthMiBPer10k: number;
  /** Answers that were not 200. */
  failed: number;
}

/**
 * Connection churn against a running sidecar: a new mTLS connection per request (no
 * keep-alive), the bound token each time. Reports how much the sidecar's resident memory
 * (VmRSS, no forced GC: what the pod's memory limit sees) grows per 10 000 connections
 * after a warm-up. A leak per connection shows as a figure that scales with the count.
 */
export async function benchConnectionChurn(
  env: BenchEnv,
  sidecar: { pid: number; inboundPort: number },
): Promise<ChurnResult> {
  const token = (await readFile(env.tokens.reused, 'utf8')).trim();
  const churn = (count: number) =>
    churnConnections({
      address: `127.0.0.1:${sidecar.inboundPort}`,
      client: env.pki.workloads['orders']!,
      count,
      path: '/bench',
      headers: { authorization: `Bearer ${token}` },
    });
  await churn(WARM_UP);
  const before = memoryOf(sidecar.pid)?.rssMiB ?? NaN;
  const statuses = await churn(MEASURED);
  const after = memoryOf(sidecar.pid)?.rssMiB ?? NaN;
  return {
    connections: MEASURED,
    rssBeforeMiB: before,
    rssAfterMiB: after,
    growthMiBPer10k: ((after - before) * 10_000) / MEASURED,
    failed: MEASURED - (statuses.get(200) ?? 0),
  };
}
