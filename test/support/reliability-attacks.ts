import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { connect, type ConnectionOptions } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { issueCertificate, type DevCa } from '../../src/devca/dev-ca.js';

/** A client certificate + key as PEM. */
export interface ClientMaterial {
  certPem: string;
  keyPem: string;
}

/** A certificate from `ca` that expired an hour ago (valid 2 h → 1 h in the past). */
export async function expiredCert(ca: DevCa, name: string): Promise<ClientMaterial> {
  const issued = await issueCertificate(ca, {
    name,
    spiffeId: `spiffe://demo.local/ns/default/sa/${name}`,
    notBefore: new Date(Date.now() - 2 * 3_600_000),
    ttlMs: 3_600_000,
  });
  return { certPem: issued.certPem, keyPem: issued.keyPem ?? '' };
}

/** A certificate from `ca` with only the serverAuth extended key usage (no clientAuth). */
export async function serverOnlyCert(ca: DevCa, name: string): Promise<ClientMaterial> {
  const issued = await issueCertificate(ca, {
    name,
    spiffeId: `spiffe://demo.local/ns/default/sa/${name}`,
    usages: ['serverAuth'],
  });
  return { certPem: issued.certPem, keyPem: issued.keyPem ?? '' };
}

/** A certificate from `ca` for an RSA-2048 key (the dev CA itself issues P-256 keys). */
export async function rsaCert(ca: DevCa, name: string): Promise<ClientMaterial> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: alg,
  });
  const issued = await issueCertificate(ca, {
    name,
    spiffeId: `spiffe://demo.local/ns/default/sa/${name}`,
    csrPem: csr.toString('pem'),
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
  });
  return { certPem: issued.certPem, keyPem: String(keyPem) };
}

/**
 * Performs a TLS handshake with 127.0.0.1:`port` and resolves with `<protocol> <cipher>`
 * (OpenSSL name, e.g. `TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256`), or `refused: <reason>` when
 * the handshake failed (bounded by `timeoutMs`).
 */
export function tlsHandshake(
  port: number,
  tls: ConnectionOptions,
  timeoutMs = 10_000,
): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...tls });
    const timer = setTimeout(() => done('refused: timeout'), timeoutMs);
    socket.on('secureConnect', () =>
      done(`${socket.getProtocol() ?? '?'} ${socket.getCipher().name}`),
    );
    socket.on('error', (err: Error & { code?: string }) =>
      done(`refused: ${err.code ?? err.message}`),
    );
    socket.on('close', () => done('refused: closed'));
  });
}

/**
 * Opens a raw TLS connection to 127.0.0.1:`port`, sends one HTTP/1.1 request with
 * `authorization`, and resolves with the status line, or with `refused: <reason>` when the
 * handshake or the connection failed before any HTTP answer (bounded by `timeoutMs`).
 */
export function httpOverTls(
  port: number,
  tls: ConnectionOptions,
  authorization: string | undefined,
  timeoutMs = 10_000,
): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    let received = '';
    const done = (value: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ALPNProtocols: ['http/1.1'],
      ...tls,
    });
    const timer = setTimeout(() => done('refused: timeout'), timeoutMs);
    socket.on('secureConnect', () => {
      socket.write(
        `GET /attack HTTP/1.1\r\nhost: localhost\r\n${authorization !== undefined ? `authorization: ${authorization}\r\n` : ''}connection: close\r\n\r\n`,
      );
    });
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      const nl = received.indexOf('\r\n');
      if (nl !== -1) done(received.slice(0, nl));
    });
    socket.on('error', (err: Error & { code?: string }) =>
      done(`refused: ${err.code ?? err.message}`),
    );
    socket.on('close', () => done('refused: closed'));
  });
}

/** True for an outcome of {@link httpOverTls} that never reached HTTP. */
export function refusedAtTls(outcome: string): boolean {
  return outcome.startsWith('refused: ');
}
