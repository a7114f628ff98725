import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { CertboundConfigInput } from '../../src/config/schema.js';
import {
  startAuthorizationServer,
  type DevAsResource,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { rotateWorkload } from '../../src/devca/dev-ca-rotation.js';
import type { X509Source } from '../../src/identity/x509-source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import { startRecordingApp, tempDir, type RecordingApp } from './http-fixtures.js';
import { createTestPki, type TestPki } from './pki.js';

/** Resource (and `aud`) of the payments service in the reliability mesh. */
export const MESH_PAYMENTS = 'https://payments.demo.local';
/** A second resource with short-lived tokens (AS outage longer than the token lifetime). */
export const MESH_SHORT = 'https://short.demo.local';

/** Options of {@link startMesh}. */
export interface MeshOptions {
  /** Lifetime of tokens for {@link MESH_SHORT}, seconds. Default 3. */
  shortTtlSec?: number;
  /** App B URL instead of the recording app (e.g. a closed port). */
  appUrl?: string;
  /** Extra `inbound.limits` of sidecar B. */
  inboundLimits?: Record<string, unknown>;
  /** Start sidecar A (orders: outbound + token client). Default true. */
  withA?: boolean;
}

/**
 * orders app → sidecar A (outbound, FileX509Source on orders' files, TokenClient to the dev
 * AS) → sidecar B (inbound, FileX509Source on payments' files, JWKS from the dev AS) → app B.
 * Everything in process, on 127.0.0.1, certificates minted for the run.
 */
export interface Mesh {
  pki: TestPki;
  as: DevAuthorizationServer;
  appB: RecordingApp;
  sidecarA: Sidecar | undefined;
  sidecarB: Sidecar;
  /** `https://localhost:<B inbound port>`. */
  inboundB: string;
  /** `http://127.0.0.1:<A outbound port>`. */
  outboundA: string;
  /** `http://127.0.0.1:<B admin port>`. */
  adminB: string;
  /** Path of the trust bundle every workload uses. */
  bundlePath: string;
  /**
   * Re-issues `name`'s certificate in place (as `certbound certs rotate` does) and resolves
   * once `source` has published it. Returns the new thumbprint.
   */
  rotate(name: 'orders' | 'payments', source: X509Source): Promise<string>;
  close(): Promise<void>;
}

/** Sum of a sidecar counter's values whose labels include `labels`. */
export async function counterOf(
  sidecar: Sidecar,
  metric: 'inboundRequests' | 'outboundRequests' | 'tokenFetches',
  labels: Record<string, string> = {},
): Promise<number> {
  const data = await sidecar.metrics[metric].get();
  return data.values
    .filter((v) =>
      Object.entries(labels).every(([k, want]) => String(v.labels[k as never]) === want),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

/** Resolves once `source` publishes `thumbprint` (or at once when it already has). */
export function published(
  source: X509Source,
  thumbprint: string,
  timeoutMs = 15_000,
): Promise<void> {
  if (source.current().thumbprint === thumbprint) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`source did not publish ${thumbprint} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = source.onUpdate((identity) => {
      if (identity.thumbprint !== thumbprint) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Thumbprint of the certificate a TLS server on 127.0.0.1:`port` presents to `client`. */
export function servedThumbprint(
  port: number,
  client: { certPem: string; keyPem: string; bundlePem: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: client.bundlePem,
      cert: client.certPem,
      key: client.keyPem,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert === undefined) reject(new Error('no server certificate'));
      else resolve(thumbprintOf(cert));
    });
    socket.once('error', reject);
  });
}

/** Reads a workload's current files (after rotations). */
export function currentFiles(
  pki: TestPki,
  name: string,
): { certPem: string; keyPem: string; bundlePem: string } {
  const w = pki.workloads[name]!;
  return {
    certPem: readFileSync(w.paths.cert, 'utf8'),
    keyPem: readFileSync(w.paths.key, 'utf8'),
    bundlePem: readFileSync(w.paths.ca, 'utf8'),
  };
}

/** Starts the reliability mesh; see {@link Mesh}. */
export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const [pki, appB, files] = await Promise.all([
    createTestPki(['orders', 'payments', 'attacker']),
    startRecordingApp(),
    tempDir(),
  ]);
  const w = pki.workloads;
  const resources: DevAsResource[] = [
    { indicator: MESH_PAYMENTS, scopes: ['payments:read', 'payments:write'], ttlSec: 300 },
    {
      indicator: MESH_SHORT,
      audience: MESH_PAYMENTS,
      scopes: ['payments:read'],
      ttlSec: options.shortTtlSec ?? 3,
    },
  ];
  const as = await startAuthorizationServer({
    ca: pki.ca,
    clients: [
      { clientId: 'orders', spiffeId: w['orders']!.spiffeId },
      { clientId: 'attacker', spiffeId: w['attacker']!.spiffeId },
    ],
    resources,
  });
  const bundlePath = `${pki.dir}/bundle.pem`;
  const started: Sidecar[] = [];
  const close = async (): Promise<void> => {
    for (const s of started.reverse()) await s.close();
    await appB.close();
    await as.close();
    await Promise.all([pki.cleanup(), files.cleanup()]);
  };
  try {
    const identityOf = (name: string) => ({
      certPath: w[name]!.paths.cert,
      keyPath: w[name]!.paths.key,
      bundlePath: w[name]!.paths.ca,
      pollInterval: 100,
    });
    const configB: CertboundConfigInput = {
      logLevel: 'silent',
      shutdownGrace: 2_000,
      identity: identityOf('payments'),
      inbound: {
        host: '127.0.0.1',
        port: 0,
        app: { url: options.appUrl ?? appB.url },
        limits: { appTimeout: 2_000, ...(options.inboundLimits ?? {}) },
      },
      verify: {
        issuer: as.issuer,
        audience: MESH_PAYMENTS,
        jwksUri: as.jwksUri,
        jwksCaFile: bundlePath,
      },
      admin: { host: '127.0.0.1', port: 0 },
    };
    const sidecarB = await startSidecar(parseConfig(configB, {}), {
      logger: silentLogger(),
      processMetrics: false,
    });
    started.push(sidecarB);
    const inboundB = `https://localhost:${sidecarB.inbound!.port}`;
    let sidecarA: Sidecar | undefined;
    if (options.withA !== false) {
      const configA: CertboundConfigInput = {
        logLevel: 'silent',
        shutdownGrace: 2_000,
        identity: identityOf('orders'),
        token: { issuer: as.issuer, clientId: 'orders', asCaFile: bundlePath, timeout: 2_000 },
        outbound: {
          host: '127.0.0.1',
          port: 0,
          upstreams: [
            {
              name: 'payments',
              url: inboundB,
              resource: MESH_PAYMENTS,
              scope: 'payments:read',
              spiffeId: w['payments']!.spiffeId,
            },
            {
              name: 'short',
              url: inboundB,
              resource: MESH_SHORT,
              scope: 'payments:read',
              spiffeId: w['payments']!.spiffeId,
            },
          ],
        },
        admin: { host: '127.0.0.1', port: 0 },
      };
      sidecarA = await startSidecar(parseConfig(configA, {}), {
        logger: silentLogger(),
        processMetrics: false,
      });
      started.push(sidecarA);
    }
    await Promise.all(started.map((s) => s.whenReady(20_000)));
    return {
      pki,
      as,
      appB,
      sidecarA,
      sidecarB,
      inboundB,
      outboundA: sidecarA === undefined ? '' : `http://127.0.0.1:${sidecarA.outbound!.port}`,
      adminB: `http://127.0.0.1:${sidecarB.admin!.port}`,
      bundlePath,
      async rotate(name, source) {
        const rotated = await rotateWorkload(pki.dir, name);
        await published(source, rotated.thumbprint);
        return rotated.thumbprint;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
