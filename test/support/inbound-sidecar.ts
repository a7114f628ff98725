import type { JWK, JWTPayload } from 'jose';
import { createTestIssuer, type TestIssuer } from './jwt.js';
import { materialOf, createTestPki, type TestPki } from './pki.js';
import { tempDir } from './http-fixtures.js';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process.js';

/** `certbound run` (the built CLI) with only the inbound proxy, keys from a test issuer. */
export interface InboundSidecar {
  readonly pki: TestPki;
  readonly issuer: TestIssuer;
  readonly process: SidecarProcess;
  /** Inbound port on 127.0.0.1. */
  readonly port: number;
  /** PEM material of the `orders` client workload. */
  readonly orders: { certPem: string; keyPem: string; bundlePem: string };
  /** A token bound to `orders`' certificate (claims override the defaults). */
  token(claims?: JWTPayload): Promise<string>;
  /** Access-log lines (`inbound request`) printed so far, parsed. */
  accessLog(): Array<Record<string, unknown>>;
  /**
   * Resolves with the first access-log line that `match`es, waiting for it (bounded): pino
   * writes asynchronously, so a line may arrive after the response.
   */
  accessLogLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** More of the sidecar's configuration, for {@link startInboundSidecar}. */
export interface InboundSidecarExtras {
  /** Top-level YAML lines, e.g. `profile: fapi2`. */
  readonly topYaml?: string;
  /** More public keys in the JWKS file beside the test issuer's (e.g. an RS256 key). */
  readonly extraKeys?: readonly JWK[];
}

/**
 * Starts the CLI sidecar in front of `appUrl`. `inboundYaml` is appended inside `inbound:`
 * (indented two spaces), e.g. `  policies:\n    - { prefix: /admin, scopes: [admin] }`.
 */
export async function startInboundSidecar(
  appUrl: string,
  inboundYaml = '',
  extras: InboundSidecarExtras = {},
): Promise<InboundSidecar> {
  const [pki, issuer, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    tempDir(),
  ]);
  const payments = pki.workloads['payments']!;
  const jwks = await files.write(
    'jwks.json',
    JSON.stringify({ keys: [...issuer.jwks().keys, ...(extras.extraKeys ?? [])] }),
  );
  const config = await files.write(
    'inbound.yaml',
    `identity: { certPath: ${payments.paths.cert}, keyPath: ${payments.paths.key}, bundlePath: ${payments.paths.ca} }
shutdownGrace: 2s
${extras.topYaml ?? ''}
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${appUrl}" }
  limits: { appTimeout: 5s }
${inboundYaml}
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwks} }
`,
  );
  let process: SidecarProcess;
  try {
    process = await startSidecarProcess(config);
  } catch (err) {
    await Promise.all([pki.cleanup(), files.cleanup()]);
    throw err;
  }
  const orders = pki.workloads['orders']!;
  const accessLog = (): Array<Record<string, unknown>> =>
    process.lines
      .filter((l) => l.includes('"inbound request"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stdout = process.child.stdout!;
  return {
    pki,
    issuer,
    process,
    port: Number(process.addresses.inbound!.split(':').at(-1)),
    orders: materialOf(orders),
    token: (claims) => issuer.sign(orders.thumbprint, claims),
    accessLog,
    accessLogLine(match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const line = accessLog().find(match);
          if (line === undefined) return false;
          clearTimeout(timer);
          stdout.off('data', onData);
          resolve(line);
          return true;
        };
        // The sidecar's own line splitter runs on the same 'data' event, registered first.
        const onData = (): void => void check();
        const timer = setTimeout(() => {
          stdout.off('data', onData);
          reject(new Error(`no matching access-log line within ${timeoutMs} ms`));
        }, timeoutMs);
        stdout.on('data', onData);
        check();
      });
    },
    async close() {
      await process.stop();
      await Promise.all([pki.cleanup(), files.cleanup()]);
    },
  };
}
