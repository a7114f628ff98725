import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { percentile, record, type LatencyHistogram } from './latency-histogram.js';
import type { LoadResult } from './load-result.js';

/** What the parent asks the HTTPS load generator to do (JSON in argv[2]). */
export interface LoadSpec {
  url: string;
  certPath: string;
  keyPath: string;
  caPath: string;
  /** Tokens to send, used round-robin (one token = "token reused"). */
  tokensPath: string;
  /** Index of the first token used (lets successive runs continue the round-robin). */
  startIndex?: number;
  /** Unmeasured load first (JIT and connection warm-up of this fresh process). */
  warmupMs?: number;
  concurrency: number;
  durationMs: number;
  /** Extra headers per request. */
  headers?: Record<string, string>;
}

/**
 * A separate-process HTTPS load generator: `concurrency` keep-alive connections presenting
 * a client certificate, each sending GET requests back to back until `durationMs` is over.
 */
async function run(spec: LoadSpec): Promise<LoadResult> {
  const tokens = readFileSync(spec.tokensPath, 'utf8')
    .split('\n')
    .filter((t) => t.length > 0);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: spec.concurrency,
    cert: readFileSync(spec.certPath),
    key: readFileSync(spec.keyPath),
    ca: readFileSync(spec.caPath),
    servername: 'localhost',
  });
  const url = new URL(spec.url);
  const counters = () => ({ hist: {} as LatencyHistogram, n: 0, errors: 0, non2xx: 0 });
  let c = counters();
  let firstError: string | undefined;
  let next = spec.startIndex ?? 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const token = tokens[next++ % tokens.length]!;
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          headers: { authorization: `Bearer ${token}`, ...spec.headers },
        },
        (res) => {
          if ((res.statusCode ?? 0) >= 300) c.non2xx++;
          res.resume();
          res.on('end', () => {
            record(c.hist, Number(process.hrtime.bigint() - t0) / 1e6);
            c.n++;
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        c.errors++;
        firstError ??= err.message;
        resolve();
      });
      req.end();
    });
  const phase = (ms: number): Promise<unknown> => {
    const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
    return Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (process.hrtime.bigint() < deadline) await one();
      }),
    );
  };
  if ((spec.warmupMs ?? 0) > 0) await phase(spec.warmupMs!);
  c = counters();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await phase(spec.durationMs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  return {
    requests: c.n,
    errors: c.errors,
    non2xx: c.non2xx,
    seconds,
    rps: c.n / seconds,
    p50Ms: percentile(c.hist, 50),
    p99Ms: percentile(c.hist, 99),
    hist: c.hist,
    nextIndex: next,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
process.stdout.write(`${JSON.stringify(await run(spec))}\n`);
