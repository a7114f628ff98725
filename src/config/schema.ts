import { createSecureContext, getCiphers } from 'node:tls';
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import {
  cipherListOf,
  isTls13Suite,
  type TlsContextSettings,
} from '../tls/follow-secure-context.js';
import { normalisePath } from '../verify/request-path.js';
import { PROOF_REQUIREMENTS, type ProofRequirement } from '../verify/proof-requirement.js';
import { FILE_SOURCE_DEFAULTS } from '../identity/file-x509-source.js';
import { SELF_RENEWING_DEFAULTS } from '../identity/self-renewing-x509-source.js';
import { isLoopback } from '../loopback.js';
import { TOKEN_DEFAULTS } from '../token/options.js';
import { INTROSPECTION_DEFAULTS } from '../verify/introspection-options.js';
import { JWKS_DEFAULTS, VERIFIER_DEFAULTS } from '../verify/options.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A duration written as `500ms`, `30s`, `5m`, `24h` (or a number of milliseconds). */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a duration' });
    return z.NEVER;
  }
});

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const nonEmpty = z.string().min(1);
const stringList = z.union([nonEmpty, z.array(nonEmpty).min(1)]);

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'is not an http(s) URL');

const httpsUrl = z.string().refine((value) => {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}, 'is not an https URL');

const identitySchema = z
  .strictObject({
    certPath: nonEmpty.optional(),
    keyPath: nonEmpty.optional(),
    bundlePath: nonEmpty.optional(),
    pollInterval: duration.default(FILE_SOURCE_DEFAULTS.pollIntervalMs),
    expiryWarning: duration.optional(),
    quietPeriod: duration.default(FILE_SOURCE_DEFAULTS.debounceMs),
    dev: z
      .strictObject({
        caDir: nonEmpty,
        name: nonEmpty,
        spiffeId: nonEmpty.optional(),
        ttl: duration.default(SELF_RENEWING_DEFAULTS.ttlMs),
      })
      .optional(),
  })
  .superRefine((value, ctx) => {
    const files = [value.certPath, value.keyPath, value.bundlePath];
    const someFiles = files.some((f) => f !== undefined);
    if (value.dev !== undefined && someFiles) {
      ctx.addIssue({
        code: 'custom',
        path: ['dev'],
        message: 'cannot be combined with certPath/keyPath/bundlePath (choose one identity)',
      });
    } else if (value.dev === undefined) {
      for (const key of ['certPath', 'keyPath', 'bundlePath'] as const) {
        if (value[key] === undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: 'is required' });
      }
    }
  });

/** A policy prefix must be a path in the normal form requests are matched in. */
const pathPrefix = z
  .string()
  .startsWith('/')
  .superRefine((value, ctx) => {
    let normal: string;
    try {
      normal = normalisePath(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cannot be normalised: ${(err as Error).message}` });
      return;
    }
    if (normal !== value)
      ctx.addIssue({
        code: 'custom',
        message: `is not a normalised path (requests are matched after normalisation): write ${normal}`,
      });
  });

// RFC 9110 §5.1 field-name token, lower-case; a trailing "*" matches a name prefix.
const headerNamePattern = z
  .string()
  .regex(
    /^[a-z0-9!#$%&'+.^_`|~-]+\*?$/,
    'must be a lower-case header name, optionally ending in "*" (a prefix)',
  );

const policySchema = z.strictObject({
  prefix: pathPrefix,
  caseSensitive: z.boolean().default(false),
  clientIds: z.array(nonEmpty).optional(),
  spiffeIds: z.array(nonEmpty).optional(),
  scopes: z.array(nonEmpty).optional(),
  issuers: z.array(nonEmpty).optional(),
  proof: z.enum(PROOF_REQUIREMENTS as [ProofRequirement, ...ProofRequirement[]]).optional(),
});

// RFC 6454 origin of the listener as clients address it: `https://host[:port]`, nothing else.
const publicOrigin = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (
        url.protocol === 'https:' &&
        url.username === '' &&
        url.password === '' &&
        url.pathname === '/' &&
        !value.includes('?') &&
        !value.includes('#')
      );
    } catch {
      return false;
    }
  }, 'must be an https origin without path, query or credentials, e.g. https://orders.example.com')
  .transform((value) => new URL(value).origin);

/** A colon-separated string (OpenSSL style) or a list, as a list of names. */
const nameList = z
  .union([nonEmpty, z.array(nonEmpty).min(1)])
  .transform((value) =>
    (Array.isArray(value) ? value : value.split(':')).map((n) => n.trim()).filter((n) => n !== ''),
  );

// OpenSSL matches suite names case-sensitively, and they are all upper case.
const cipherList = nameList.transform((names) => names.map((n) => n.toUpperCase()));

const KNOWN_CIPHERS = new Set(getCiphers());
// PSK/SRP need secrets certbound never configures; CCM8's 64-bit tag is below BCP 195.
const REFUSED_CIPHER = /(^|-)(PSK|SRP)-|CCM_?8/i;

function cipherProblem(name: string): string | undefined {
  if (!KNOWN_CIPHERS.has(name.toLowerCase()))
    return `${name} is not a cipher suite this node/OpenSSL offers (name suites, not OpenSSL expressions such as HIGH or !aNULL)`;
  if (REFUSED_CIPHER.test(name)) return `${name} is refused (PSK, SRP and CCM8 suites)`;
  return undefined;
}

function curveProblem(name: string): string | undefined {
  if (name.toLowerCase() === 'auto') return 'auto is the default: leave ecdhCurves out for it';
  try {
    createSecureContext({ ecdhCurve: name });
    return undefined;
  } catch {
    return `${name} is not an ECDHE group this node/OpenSSL offers`;
  }
}

/** `inbound.tls`, turned into node's settings (ciphers as one list, TLS 1.3 names first). */
const inboundTlsSchema = z
  .strictObject({
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    ciphers: cipherList.optional(),
    ecdhCurves: nameList.optional(),
  })
  .superRefine((value, ctx) => {
    for (const [key, problemOf] of [
      ['ciphers', cipherProblem],
      ['ecdhCurves', curveProblem],
    ] as const) {
      for (const name of value[key] ?? []) {
        const message = problemOf(name);
        if (message !== undefined) ctx.addIssue({ code: 'custom', path: [key], message });
      }
    }
    if (
      value.minVersion === 'TLSv1.2' &&
      value.ciphers !== undefined &&
      value.ciphers.length > 0 &&
      value.ciphers.every(isTls13Suite)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['ciphers'],
        message:
          'names no TLS 1.2 suite while minVersion is TLSv1.2 (set minVersion: TLSv1.3 for TLS 1.3 only)',
      });
    }
  })
  .transform((value, ctx): TlsContextSettings => {
    const settings: TlsContextSettings = {
      minVersion: value.minVersion,
      ...(value.ciphers !== undefined ? { ciphers: value.ciphers.join(':') } : {}),
      ...(value.ecdhCurves !== undefined ? { ecdhCurve: value.ecdhCurves.join(':') } : {}),
    };
    // The whole set, as the listener will build it: what OpenSSL refuses fails here, not at start.
    try {
      createSecureContext({ ...settings, ciphers: cipherListOf(settings) });
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `OpenSSL refuses these settings (${err instanceof Error ? err.message : String(err)})`,
      });
    }
    return settings;
  });

const inboundSchema = z.strictObject({
  host: host.default('0.0.0.0'),
  port: port.default(15443),
  app: z.strictObject({
    url: httpUrl,
    grpcUrl: httpUrl.optional(),
    maxConnections: z.number().int().min(1).default(128),
  }),
  keepAuthorization: z.boolean().default(false),
  identityHeaderPrefix: z
    .string()
    .regex(/^[a-z0-9-]+-$/, 'must be lower-case letters, digits and dashes, ending in "-"')
    .default('x-certbound-'),
  stripHeaders: z.array(headerNamePattern).default([]),
  publicOrigin: publicOrigin.optional(),
  limits: z
    .strictObject({
      maxHeaderBytes: z.number().int().min(1024).default(16_384),
      requestTimeout: duration.default(300_000),
      headersTimeout: duration.default(60_000),
      keepAliveTimeout: duration.default(5_000),
      maxConnections: z.number().int().min(1).default(10_000),
      appTimeout: duration.default(30_000),
      // RFC 9113 §6.5.2: SETTINGS_MAX_CONCURRENT_STREAMS is a 31-bit value in practice.
      maxConcurrentStreams: z.number().int().min(1).max(2_147_483_647).default(100),
      // Unset: half of inbound.app.maxConnections (the proxy applies it); 0 = no limit.
      maxRequestsPerPeer: z.number().int().min(0).optional(),
    })
    .prefault({}),
  policies: z.array(policySchema).default([]),
  tls: inboundTlsSchema.prefault({}),
});

/** RFC 7662 introspection of one issuer's opaque tokens (`verify.issuers[].introspection`). */
const introspectionSchema = z
  .strictObject({
    endpoint: httpsUrl.optional(),
    clientId: nonEmpty,
    clientSecret: nonEmpty.optional(),
    clientSecretFile: nonEmpty.optional(),
    caFile: nonEmpty.optional(),
    timeout: duration.default(INTROSPECTION_DEFAULTS.timeoutMs),
    cacheMaxAge: duration.default(INTROSPECTION_DEFAULTS.cacheMaxAgeMs),
    inactiveCacheMaxAge: duration.default(INTROSPECTION_DEFAULTS.inactiveCacheMaxAgeMs),
    jwtResponse: z.boolean().default(false),
  })
  .superRefine((value, ctx) => {
    if (value.clientSecret !== undefined && value.clientSecretFile !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: 'cannot be combined with clientSecretFile (choose one)',
      });
  });

/** One trusted issuer (`verify.issuers[]`). */
const issuerSchema = z
  .strictObject({
    issuer: nonEmpty,
    audience: stringList,
    jwksUri: httpUrl.optional(),
    jwksCaFile: nonEmpty.optional(),
    jwksFile: nonEmpty.optional(),
    algorithms: z.array(nonEmpty).min(1).optional(),
    types: z.array(nonEmpty).min(1).optional(),
    introspection: introspectionSchema.optional(),
  })
  .superRefine((value, ctx) => {
    if (value.jwksUri !== undefined && value.jwksFile !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message: 'cannot be combined with jwksFile (choose one)',
      });
    if (
      value.jwksUri === undefined &&
      value.jwksFile === undefined &&
      value.introspection === undefined
    )
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message:
          'one of jwksUri, jwksFile (JWT access tokens) or introspection (opaque tokens) is required',
      });
    // RFC 9701 §5: the signed answer is verified with the AS's published keys.
    if (value.introspection?.jwtResponse === true && value.jwksUri === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['introspection', 'jwtResponse'],
        message: "needs this issuer's jwksUri (the keys that sign the introspection responses)",
      });
  });

/** Keys of the single-issuer form that `issuers` replaces. */
const SINGLE_ISSUER_KEYS = [
  'issuer',
  'audience',
  'jwksUri',
  'jwksFile',
  'jwksCaFile',
  'algorithms',
  'types',
] as const;

const verifySchema = z
  .strictObject({
    issuer: stringList.optional(),
    audience: stringList.optional(),
    jwksUri: httpUrl.optional(),
    jwksCaFile: nonEmpty.optional(),
    jwksFile: nonEmpty.optional(),
    issuers: z.array(issuerSchema).min(1).optional(),
    jwksCooldown: duration.default(JWKS_DEFAULTS.cooldownMs),
    jwksMaxAge: duration.default(JWKS_DEFAULTS.cacheMaxAgeMs),
    jwksTimeout: duration.default(JWKS_DEFAULTS.timeoutMs),
    algorithms: z.array(nonEmpty).min(1).optional(),
    types: z.array(nonEmpty).min(1).optional(),
    clockTolerance: duration.default(VERIFIER_DEFAULTS.clockToleranceSec * 1000),
    maxTokenLifetime: duration
      .refine((ms) => ms >= 1000, 'must be at least 1s')
      .default(VERIFIER_DEFAULTS.maxTokenLifetimeSec * 1000),
    maxTokenBytes: z.number().int().min(256).default(VERIFIER_DEFAULTS.maxTokenBytes),
    cacheSize: z.number().int().min(0).default(VERIFIER_DEFAULTS.cacheSize),
  })
  .superRefine((value, ctx) => {
    if (value.issuers !== undefined) {
      for (const key of SINGLE_ISSUER_KEYS) {
        if (value[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'cannot be combined with issuers (set it on each issuer instead)',
          });
      }
      const seen = new Set<string>();
      let introspecting: number | undefined;
      value.issuers.forEach((entry, i) => {
        if (seen.has(entry.issuer))
          ctx.addIssue({
            code: 'custom',
            path: ['issuers', i, 'issuer'],
            message: 'is duplicated',
          });
        seen.add(entry.issuer);
        if (entry.introspection === undefined) return;
        if (introspecting !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['issuers', i, 'introspection'],
            message: `is already set on issuers[${introspecting}]: opaque tokens carry no issuer to route by, so one issuer introspects`,
          });
        introspecting ??= i;
      });
      return;
    }
    for (const key of ['issuer', 'audience'] as const) {
      if (value[key] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'is required (or list the trusted issuers under verify.issuers)',
        });
    }
    if ((value.jwksUri === undefined) === (value.jwksFile === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message: 'exactly one of jwksUri or jwksFile is required',
      });
    }
  });

const tokenSchema = z
  .strictObject({
    issuer: httpsUrl.optional(),
    tokenEndpoint: httpsUrl.optional(),
    clientId: nonEmpty,
    authMethod: z
      .enum(['tls_client_auth', 'self_signed_tls_client_auth'])
      .default(TOKEN_DEFAULTS.authMethod),
    asCaFile: nonEmpty.optional(),
    timeout: duration.default(TOKEN_DEFAULTS.timeoutMs),
    refreshAt: z.number().gt(0).lt(1).default(TOKEN_DEFAULTS.refreshAtFraction),
  })
  .superRefine((value, ctx) => {
    if (value.issuer === undefined && value.tokenEndpoint === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'one of issuer or tokenEndpoint is required',
      });
    }
  });

const upstreamSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower-case letters, digits, ".", "_" or "-"'),
  url: httpsUrl,
  audience: nonEmpty.optional(),
  resource: nonEmpty.optional(),
  scope: z.union([z.string(), z.array(nonEmpty)]).optional(),
  spiffeId: z.string().startsWith('spiffe://').optional(),
  protocol: z.enum(['http', 'grpc']).default('http'),
});

const outboundSchema = z
  .strictObject({
    host: host.default('127.0.0.1'),
    port: port.default(15001),
    grpcPort: port.optional(),
    allowNonLoopback: z.boolean().default(false),
    upstreams: z.array(upstreamSchema).default([]),
  })
  .superRefine((value, ctx) => {
    if (!value.allowNonLoopback && !isLoopback(value.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: 'is not a loopback address (set outbound.allowNonLoopback: true to allow it)',
      });
    }
    if (value.grpcPort === undefined) {
      value.upstreams.forEach((u, i) => {
        if (u.protocol === 'grpc')
          ctx.addIssue({
            code: 'custom',
            path: ['upstreams', i, 'protocol'],
            message: 'is grpc, which needs outbound.grpcPort (the h2c listener gRPC apps dial)',
          });
      });
    }
    const seen = new Set<string>();
    value.upstreams.forEach((u, i) => {
      if (seen.has(u.name))
        ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'name'], message: 'is duplicated' });
      seen.add(u.name);
    });
  });

const adminSchema = z.strictObject({
  host: host.default('127.0.0.1'),
  port: port.default(15000),
});

const localApiSchema = z
  .strictObject({
    socket: nonEmpty.optional(),
    host: host.default('127.0.0.1'),
    port: port.optional(),
  })
  .superRefine((value, ctx) => {
    if (!isLoopback(value.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: 'is not a loopback address (the local API hands out our tokens without TLS)',
      });
    }
    if ((value.socket === undefined) === (value.port === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['socket'],
        message: 'exactly one of socket or port is required',
      });
    }
  });

/** The schema of `certbound.yaml` (zod 4, strict: unknown keys are errors). */
export const configSchema = z
  .strictObject({
    logLevel: z.enum(LOG_LEVELS).default('info'),
    shutdownGrace: duration.default(10_000),
    identity: identitySchema,
    inbound: inboundSchema.optional(),
    verify: verifySchema.optional(),
    token: tokenSchema.optional(),
    outbound: outboundSchema.optional(),
    admin: adminSchema.optional(),
    localApi: localApiSchema.optional(),
  })
  .superRefine((value, ctx) => {
    if (value.inbound !== undefined && value.verify === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['verify'],
        message: 'is required when inbound is configured',
      });
    }
    if (
      (value.outbound?.upstreams.length ?? 0) + (value.localApi === undefined ? 0 : 1) > 0 &&
      value.token === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'is required when outbound upstreams or localApi are configured',
      });
    }
    if (
      value.inbound === undefined &&
      value.outbound === undefined &&
      value.localApi === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['inbound'],
        message: 'nothing to run: configure inbound, outbound or localApi',
      });
    }
  });

/** A validated configuration, durations in milliseconds, every default applied. */
export type CertboundConfig = z.output<typeof configSchema>;
/** What a configuration file may contain. */
export type CertboundConfigInput = z.input<typeof configSchema>;
/** One route policy of the inbound listener. */
export type InboundPolicyConfig = z.output<typeof policySchema>;
/** One outbound upstream. */
export type UpstreamConfig = z.output<typeof upstreamSchema>;
