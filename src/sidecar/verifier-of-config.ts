import type { SidecarMetrics } from '../observability/metrics.js';
import type { ProfileName } from '../config/profile.js';
import type { CertboundConfig } from '../config/schema.js';
import { CertboundError } from '../errors.js';
import { FailureLog } from '../identity/identity-logger.js';
import type { Logger } from '../observability/logger.js';
import type { X509Source } from '../identity/x509-source.js';
import { discoverAuthorizationServer } from '../token/discover-authorization-server.js';
import { MtlsAgents, type FetchFunction } from '../token/mtls-agents.js';
import { createVerifier, type Verifier } from '../verify/create-verifier.js';
import type { IntrospectionResult } from '../verify/introspection-options.js';
import { createMultiIssuerVerifier, type IssuerOptions } from '../verify/multi-issuer-verifier.js';
import {
  FAPI2_ALGORITHMS,
  FAPI2_MIN_RSA_MODULUS_BITS,
  type JwksOption,
} from '../verify/options.js';
import type { ProofSources } from '../verify/proof-inputs.js';
import { jwksOptionOf, readConfiguredCaFile, readConfiguredFile } from './config-files.js';
import { retryUntil } from './retry-until.js';

type VerifyConfig = NonNullable<CertboundConfig['verify']>;
type IssuerConfig = NonNullable<VerifyConfig['issuers']>[number];
type IntrospectionConfig = NonNullable<IssuerConfig['introspection']>;

/** What the verifier needs at run time, with every file already read. */
export interface VerifierPlan {
  /** Whether any key set is fetched over the network (warm it up). */
  readonly remoteKeys: boolean;
  /** The `/readyz` key of the verifier: `jwks` for one issuer, `issuers` for several. */
  readonly readinessName: string;
  /**
   * Builds the verifier; introspection presents `source`'s certificate in force to the AS.
   * `onIntrospection` counts calls (metrics); `proofSources` are the proofs besides the
   * connection's certificate (forwarded certificates, DPoP).
   */
  build(
    source: X509Source,
    onIntrospection?: (issuer: string, result: IntrospectionResult, seconds: number) => void,
    onJwksFetch?: (issuer: string, result: 'ok' | 'error', keys: number) => void,
    sources?: ProofSources,
  ): Verifier;
}

interface ReadIssuer {
  readonly config: IssuerConfig;
  readonly jwks: JwksOption | undefined;
  readonly secret: string | undefined;
  readonly ca: string | undefined;
}

function sharedOf(v: VerifyConfig, profile: ProfileName | undefined) {
  return {
    // FAPI 2.0 §5.4.1: RSA signing keys of at least 2048 bits.
    ...(profile === 'fapi2' ? { minRsaModulusBits: FAPI2_MIN_RSA_MODULUS_BITS } : {}),
    clockToleranceSec: v.clockTolerance / 1000,
    maxTokenLifetimeSec: v.maxTokenLifetime / 1000,
    maxTokenBytes: v.maxTokenBytes,
    cacheSize: v.cacheSize,
  };
}

async function readIssuer(v: VerifyConfig, config: IssuerConfig, i: number): Promise<ReadIssuer> {
  const key = `verify.issuers[${i}]`;
  const jwks =
    config.jwksUri !== undefined || config.jwksFile !== undefined
      ? await jwksOptionOf({ ...v, ...config }, key)
      : undefined;
  const intro = config.introspection;
  const secret =
    intro?.clientSecretFile !== undefined
      ? (
          await readConfiguredFile(intro.clientSecretFile, `${key}.introspection.clientSecretFile`)
        ).trim()
      : intro?.clientSecret;
  const ca =
    intro?.caFile !== undefined
      ? await readConfiguredCaFile(intro.caFile, `${key}.introspection.caFile`)
      : undefined;
  return { config, jwks, secret, ca };
}

/**
 * The introspection endpoint of `config`: as configured, else from the AS metadata (RFC
 * 8414), preferring the RFC 8705 §5 alias when authenticating with the certificate.
 */
function endpointOf(
  issuer: string,
  intro: IntrospectionConfig,
  secret: string | undefined,
  fetch: FetchFunction,
): string | (() => Promise<string>) {
  if (intro.endpoint !== undefined) return intro.endpoint;
  return async () => {
    const as = await discoverAuthorizationServer(issuer, { fetch, timeoutMs: intro.timeout });
    const url =
      (secret === undefined ? as.mtls_endpoint_aliases?.introspection_endpoint : undefined) ??
      as.introspection_endpoint;
    if (url === undefined)
      throw new Error('the metadata has no introspection_endpoint (set introspection.endpoint)');
    return url;
  };
}

/**
 * Reads every file `verify` names (JWKS files, CA files, client secrets) and returns how to
 * build its verifier: one issuer (the `verify.issuer` keys) or several (`verify.issuers`).
 *
 * @throws CertboundError when a named file is unreadable or a JWKS file is not JSON
 */
export async function verifierPlanOf(
  v: VerifyConfig,
  profile?: ProfileName,
): Promise<VerifierPlan> {
  // FAPI 2.0 §5.4.1: under the profile, unset algorithms mean PS256, ES256, EdDSA only
  // (set ones were checked against the profile before start).
  const algorithmsOf = (configured: string[] | undefined): string[] | undefined =>
    configured ?? (profile === 'fapi2' ? [...FAPI2_ALGORITHMS] : undefined);
  const topAlgorithms = algorithmsOf(v.algorithms);
  if (v.issuers === undefined) {
    const jwks = await jwksOptionOf(v);
    return {
      remoteKeys: 'url' in jwks,
      readinessName: 'jwks',
      build: (_source, _onIntrospection, onJwksFetch, sources = {}) =>
        createVerifier({
          ...sources,
          jwks: withFetchHook(jwks, firstOf(v.issuer), onJwksFetch),
          issuer: v.issuer as string | string[],
          audience: v.audience as string | string[],
          ...(topAlgorithms !== undefined ? { algorithms: topAlgorithms } : {}),
          ...(v.types !== undefined ? { types: v.types } : {}),
          ...sharedOf(v, profile),
        }),
    };
  }
  const issuers = await Promise.all(v.issuers.map((config, i) => readIssuer(v, config, i)));
  return {
    remoteKeys: issuers.some((i) => i.jwks !== undefined && 'url' in i.jwks),
    readinessName: 'issuers',
    build(source, onIntrospection, onJwksFetch, sources = {}) {
      const agents: MtlsAgents[] = [];
      const verifier = createMultiIssuerVerifier({
        ...sources,
        ...sharedOf(v, profile),
        issuers: issuers.map(({ config, jwks, secret, ca }): IssuerOptions => {
          const intro = config.introspection;
          let introspection: IssuerOptions['introspection'];
          if (intro !== undefined) {
            const mtls = new MtlsAgents(ca, intro.timeout);
            agents.push(mtls);
            // The certificate in force on every call: rotation needs no restart.
            const fetch: FetchFunction = (url, init) => mtls.fetchFor(source.current())(url, init);
            introspection = {
              endpoint: endpointOf(config.issuer, intro, secret, fetch),
              clientId: intro.clientId,
              ...(secret !== undefined ? { clientSecret: secret } : {}),
              fetch,
              timeoutMs: intro.timeout,
              cacheMaxAgeMs: intro.cacheMaxAge,
              inactiveCacheMaxAgeMs: intro.inactiveCacheMaxAge,
              // The schema requires jwksUri with jwtResponse.
              ...(intro.jwtResponse && config.jwksUri !== undefined
                ? {
                    jwtResponse: {
                      jwksUri: config.jwksUri,
                      ...(config.algorithms !== undefined ? { algorithms: config.algorithms } : {}),
                    },
                  }
                : {}),
              ...(onIntrospection !== undefined
                ? {
                    onResult: (r: IntrospectionResult, seconds: number) =>
                      onIntrospection(config.issuer, r, seconds),
                  }
                : {}),
            };
          }
          const algorithms = algorithmsOf(config.algorithms);
          return {
            issuer: config.issuer,
            audience: config.audience,
            ...(jwks !== undefined
              ? { jwks: withFetchHook(jwks, config.issuer, onJwksFetch) }
              : {}),
            ...(algorithms !== undefined ? { algorithms } : {}),
            ...(config.types !== undefined ? { types: config.types } : {}),
            ...(introspection !== undefined ? { introspection } : {}),
          };
        }),
      });
      return {
        ...verifier,
        close: async () => {
          await verifier.close();
          await Promise.all(agents.map((a) => a.close()));
        },
      };
    },
  };
}

function firstOf(value: string | readonly string[] | undefined): string {
  return (typeof value === 'string' ? value : value?.[0]) ?? 'unknown';
}

/** A remote key set that reports each fetch (metrics) under `issuer`. */
function withFetchHook(
  jwks: JwksOption,
  issuer: string,
  onJwksFetch: ((issuer: string, result: 'ok' | 'error', keys: number) => void) | undefined,
): JwksOption {
  if (onJwksFetch === undefined || !('url' in jwks)) return jwks;
  return { ...jwks, onFetch: (result, keys) => onJwksFetch(issuer, result, keys) };
}

/**
 * Warm-up: fetches the JWKS before traffic arrives, retrying with backoff until it works
 * or `stopped()`; each distinct failure is logged once (at error level when a retry cannot
 * fix it), the recovery once.
 */
export function warmUpKeys(verifier: Verifier, logger: Logger, stopped: () => boolean): void {
  const log = logger.child({ component: 'verify' });
  const failures = new FailureLog(log);
  void retryUntil(
    () => verifier.refreshKeys(),
    stopped,
    (err, tries, retryInMs) => {
      const error =
        err instanceof CertboundError
          ? err
          : new CertboundError('ERR_JWKS_UNAVAILABLE', undefined, { cause: err });
      failures.failure(
        `${error.code}|${error.message}`,
        { code: error.code, ...error.details, tries, retryInMs },
        `JWKS not usable yet (retrying with backoff): ${error.message}`,
        error.details['permanent'] === true ? 'error' : 'warn',
      );
    },
  ).then((ok) => {
    if (ok && failures.reset()) log.info('JWKS fetched');
  });
}

/** The metric hooks every verifier the sidecar builds reports through (start and reload). */
export function verifierMetricHooks(metrics: SidecarMetrics): {
  readonly onIntrospection: (issuer: string, result: IntrospectionResult, seconds: number) => void;
  readonly onJwksFetch: (issuer: string, result: 'ok' | 'error', keys: number) => void;
} {
  return {
    onIntrospection: (issuer, result, seconds) => {
      metrics.introspectionRequests.inc({ issuer, result });
      metrics.introspectionDuration.observe({ issuer, result }, seconds);
    },
    onJwksFetch: (issuer, result, keys) => {
      metrics.jwksRefreshes.inc({ issuer, result });
      metrics.jwksKeys.set({ issuer }, keys);
    },
  };
}
