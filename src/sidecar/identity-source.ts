import type { CertboundConfig } from '../config/schema.js';
import type { TlsAuthMethod } from '../token/options.js';
import { FileX509Source } from '../identity/file-x509-source.js';
import type { X509Source } from '../identity/x509-source.js';
import type { Logger } from '../observability/logger.js';

/**
 * The workload identity that `identity` configures: files that cert-manager (or
 * `make certs`) writes, or a certificate self-renewed from the dev CA. The sources log
 * through their own `identity` child of `logger`.
 *
 * @param options.authMethod `token.authMethod`: with `self_signed_tls_client_auth` the
 *   certificate files may hold a self-signed leaf that chains to no bundle CA (RFC 8705 §2.2)
 */
export async function identitySourceOf(
  identity: CertboundConfig['identity'],
  options: {
    readonly requireServerAuth: boolean;
    readonly logger?: Logger;
    readonly authMethod?: TlsAuthMethod | undefined;
  },
): Promise<X509Source> {
  const common = {
    requireServerAuth: options.requireServerAuth,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  };
  if (identity.dev !== undefined) {
    // @peculiar/x509 (CSRs, the dev CA: ≈150 modules) loads only for a self-renewed identity.
    const [{ devCaSigner }, { SelfRenewingX509Source }] = await Promise.all([
      import('../devca/dev-ca-signer.js'),
      import('../identity/self-renewing-x509-source.js'),
    ]);
    return SelfRenewingX509Source.create({
      sign: devCaSigner({ caDir: identity.dev.caDir }),
      name: identity.dev.name,
      ...(identity.dev.spiffeId !== undefined ? { spiffeId: identity.dev.spiffeId } : {}),
      ttlMs: identity.dev.ttl,
      ...common,
    });
  }
  return FileX509Source.create({
    certPath: identity.certPath as string,
    keyPath: identity.keyPath as string,
    bundlePath: identity.bundlePath as string,
    pollIntervalMs: identity.pollInterval,
    debounceMs: identity.quietPeriod,
    selfSignedLeaf: options.authMethod === 'self_signed_tls_client_auth',
    ...common,
  });
}
