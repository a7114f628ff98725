import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import type { TestWorkload } from './pki.js';

/** How the test JWKS server answers. */
export type JwksMode = 'ok' | 'not-found' | 'not-json' | 'not-jwks' | 'reset';

/** A JWKS served over real HTTPS on 127.0.0.1, switchable to the failures a bad setting causes. */
export interface TestJwksServer {
  /** `https://127.0.0.1:PORT/jwks` */
  readonly url: string;
  /** Requests received so far. */
  readonly hits: number;
  /** `ok`: the set; `not-found`: 404; `not-json`: 200 text/html; `not-jwks`: 200 JSON without `keys`; `reset`: connection destroyed. */
  mode: JwksMode;
  /** Keys served in `ok` mode. */
  keys: JWK[];
  /** Resolves once `hits` reaches `count` (rejects after `timeoutMs`). */
  waitForHits(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a JWKS server presenting `tls`'s certificate. */
export async function startJwksServer(tls: TestWorkload, keys: JWK[]): Promise<TestJwksServer> {
  let hits = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const state = { mode: 'ok' as JwksMode, keys };
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    hits++;
    for (const w of waiters.filter((w) => hits >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    switch (state.mode) {
      case 'not-found':
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page');
        return;
      case 'not-json':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
        return;
      case 'not-jwks':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer":"x"}');
        return;
      case 'reset':
        req.socket.destroy();
        return;
      default:
        res
          .writeHead(200, { 'content-type': 'application/jwk-set+json' })
          .end(JSON.stringify({ keys: state.keys }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  return {
    url,
    get hits() {
      return hits;
    },
    get mode() {
      return state.mode;
    },
    set mode(mode: JwksMode) {
      state.mode = mode;
    },
    get keys() {
      return state.keys;
    },
    set keys(value: JWK[]) {
      state.keys = value;
    },
    waitForHits(count, timeoutMs = 20_000) {
      if (hits >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`JWKS server saw ${hits} requests, not ${count}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
