import { X509Certificate } from 'node:crypto';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** PEM armour for DER bytes. */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every certificate block of a PEM text, in order. */
export function splitPemCertificates(pem: string): string[] {
  return (pem.match(PEM_BLOCK) ?? []).map((block) => `${block}\n`);
}

/**
 * Parses every certificate of a PEM text.
 *
 * @throws Error from node when a block is not a valid certificate.
 */
export function parsePemCertificates(pem: string): X509Certificate[] {
  return splitPemCertificates(pem).map((block) => new X509Certificate(block));
}
