import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { runClosedLoop, type LoadCounters } from './closed-loop.js';
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

/** The result line, with the status of every answer of the run (warm-up included). */
export interface HttpLoadResult extends LoadResult {
  /** Answers by HTTP status over the whole run: a flood's 2xx count must be 0. */
  statuses: Record<string, number>;
}

/**
 * A separate-process HTTPS load generator: `concurrency` keep-alive connections presenting
 * a client certificate, each sending GET requests back to back until `durationMs` is over.
 */
async function run(spec: LoadSpec): Promise<HttpLoadResult> {
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
  let next = spec.startIndex ?? 0;
  const statuses: Record<string, number> = {};
  const one = (c: LoadCounters): Promise<void> =>
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
          const status = String(res.statusCode ?? 0);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if ((res.statusCode ?? 0) >= 300) c.non2xx++;
          res.resume();
          res.on('end', () => {
            c.answered(t0);
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        c.errors++;
        c.firstError ??= err.message;
        resolve();
      });
      req.end();
    });
  const result = await runClosedLoop(spec, one, () => next);
  agent.destroy();
  return { ...result, statuses };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
process.stdout.write(`${JSON.stringify(await run(spec))}\n`);
