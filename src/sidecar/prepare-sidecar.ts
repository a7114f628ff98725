import { nameOverrides } from '../config/env-overrides.js';
import { assertProfile } from '../config/fapi2-profile.js';
import type { CertboundConfig } from '../config/schema.js';
import { isCertboundError } from '../errors.js';
import type { X509Source } from '../identity/x509-source.js';
import type { Logger } from '../observability/logger.js';
import { readConfiguredCaFile } from './config-files.js';
import { identitySourceOf } from './identity-source.js';
import { verifierPlanOf, type VerifierPlan } from './verifier-of-config.js';

/** What {@link prepareSidecar} read and checked: everything a start needs before a port opens. */
export interface PreparedSidecar {
  /** `token.asCaFile`, read and parsed. */
  readonly asCa: string | undefined;
  /** The verifier of `verify`, every file it names read. */
  readonly plan: VerifierPlan | undefined;
  /** The workload identity, checked before publication (key matches, chains, in validity). */
  readonly source: X509Source;
}

/**
 * Reads and checks every file the configuration names — CA files parse, the JWKS file is
 * JSON, secrets are readable, the identity's certificate matches its key, chains to the
 * bundle, is within its validity and has the EKUs it needs — and opens nothing else. The
 * one home of these checks: `certbound run` calls it before opening a port, and
 * `certbound config check` calls it (then closes the source), so both refuse with the same
 * message. A value set by a `CERTBOUND_*` variable is named in the error.
 *
 * @throws CertboundError `ERR_FILE_UNREADABLE`, `ERR_CERT_PARSE`, `ERR_KEY_MISMATCH`,
 *   `ERR_CERT_UNTRUSTED`, `ERR_CERT_EXPIRED`, … naming the key or file
 */
export async function prepareSidecar(
  config: CertboundConfig,
  options: { readonly logger?: Logger } = {},
): Promise<PreparedSidecar> {
  // FAPI 2.0: a configuration that sets the profile and breaks it never starts.
  assertProfile(config);
  try {
    const asCa =
      config.token?.asCaFile !== undefined
        ? await readConfiguredCaFile(config.token.asCaFile, 'token.asCaFile')
        : undefined;
    const plan =
      config.verify !== undefined ? await verifierPlanOf(config.verify, config.profile) : undefined;
    const source = await identitySourceOf(config.identity, {
      // The inbound listener serves TLS with this certificate.
      requireServerAuth: config.inbound !== undefined,
      // RFC 8705 §2.2: a self-signed leaf (no chain to the bundle) for self_signed_tls_client_auth.
      authMethod: config.token?.authMethod,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
    return { asCa, plan, source };
  } catch (err) {
    throw isCertboundError(err) ? nameOverrides(config, err) : err;
  }
}
