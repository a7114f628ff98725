import { request } from 'node:https';
import type { TestWorkload } from './pki.js';

/** Options of {@link churnConnections}. */
export interface ChurnOptions {
  /** `host:port` of an mTLS listener on loopback. */
  readonly address: string;
  /** The client certificate presented on every connection. */
  readonly client: TestWorkload;
  /** How many connections to open, one request each. */
  readonly count: number;
  /** Connections open at once. Default 10. */
  readonly concurrency?: number;
  readonly path?: string;
  readonly headers?: Record<string, string>;
}

/**
 * Opens `count` fresh mTLS connections (no agent, no session reuse), sends one request on
 * each with `connection: close` and reads the answer: connection churn as a client that
 * does not keep connections alive. Resolves with the number of answers per status
 * (0 = the connection failed).
 */
export async function churnConnections(options: ChurnOptions): Promise<Map<number, number>> {
  const [host, port] = options.address.split(':') as [string, string];
  const statuses = new Map<number, number>();
  const one = (): Promise<number> =>
    new Promise((resolve) => {
      const req = request(
        {
          host,
          port: Number(port),
          path: options.path ?? '/',
          agent: false,
          servername: 'localhost',
          cert: options.client.certPem,
          key: options.client.keyPem,
          ca: options.client.bundlePem,
          headers: { connection: 'close', ...options.headers },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', () => resolve(0));
        },
      );
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(0));
      req.end();
    });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      next++;
      const status = await one();
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 10 }, worker));
  return statuses;
}
