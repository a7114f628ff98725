import { readFile } from 'node:fs/promises';
import type { CertboundConfig } from '../config/schema.js';
import { CertboundError } from '../errors.js';
import { parsePemCertificates } from '../identity/pem.js';
import type { TokenRequest } from '../token/access-token.js';
import type { JwksOption } from '../verify/options.js';

/**
 * Reads a file the configuration names, before any port is opened.
 *
 * @throws CertboundError `ERR_FILE_UNREADABLE` naming the key and the path
 */
export async function readConfiguredFile(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CertboundError(
      'ERR_FILE_UNREADABLE',
      `${key}: ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      { details: { key, path } },
    );
  }
}

/**
 * Reads a CA file the configuration names (`token.asCaFile`, `verify.jwksCaFile`, …) and
 * checks that it holds PEM certificates, so a wrong file fails at start, not at the first
 * TLS handshake with the AS.
 *
 * @throws CertboundError `ERR_FILE_UNREADABLE`, or `ERR_CERT_PARSE` naming the key and path
 */
export async function readConfiguredCaFile(path: string, key: string): Promise<string> {
  const text = await readConfiguredFile(path, key);
  let count: number;
  try {
    count = parsePemCertificates(text).length;
  } catch {
    count = -1;
  }
  if (count <= 0)
    throw new CertboundError(
      'ERR_CERT_PARSE',
      `${key}: ${path} ${count === 0 ? 'holds no PEM certificate' : 'holds a PEM block that is not a valid certificate'} (expected the CA certificate(s) that sign the server's TLS certificate).`,
      { details: { key, path } },
    );
  return text;
}

/**
 * The verifier's key source from `verify`: a local JWKS file (read now) or the JWKS URL
 * with its timings and CA.
 *
 * @throws CertboundError when a named file is unreadable or the JWKS file is not JSON
 */
export async function jwksOptionOf(
  verify: Pick<
    NonNullable<CertboundConfig['verify']>,
    'jwksUri' | 'jwksFile' | 'jwksCaFile' | 'jwksCooldown' | 'jwksMaxAge' | 'jwksTimeout'
  >,
  key = 'verify',
): Promise<JwksOption> {
  if (verify.jwksFile !== undefined) {
    const text = await readConfiguredFile(verify.jwksFile, `${key}.jwksFile`);
    try {
      return { keys: JSON.parse(text) as { keys: [] } };
    } catch {
      throw new CertboundError(
        'ERR_CONFIG_INVALID',
        `${key}.jwksFile: ${verify.jwksFile} is not JSON.`,
      );
    }
  }
  return {
    url: verify.jwksUri as string,
    cooldownMs: verify.jwksCooldown,
    cacheMaxAgeMs: verify.jwksMaxAge,
    timeoutMs: verify.jwksTimeout,
    ...(verify.jwksCaFile !== undefined
      ? { ca: await readConfiguredCaFile(verify.jwksCaFile, `${key}.jwksCaFile`) }
      : {}),
  };
}

/** The token request an outbound upstream needs (audience, resource, scope). */
export function tokenRequestOf(
  u: NonNullable<CertboundConfig['outbound']>['upstreams'][number],
): TokenRequest {
  return {
    ...(u.audience !== undefined ? { audience: u.audience } : {}),
    ...(u.resource !== undefined ? { resource: u.resource } : {}),
    ...(u.scope !== undefined ? { scope: u.scope } : {}),
    ...(u.proof === 'dpop' ? { proof: 'dpop' as const } : {}),
  };
}
