// Apart from the source so the config schema reads them without loading @peculiar/x509.
/**
 * The defaults of `SelfRenewingX509SourceOptions`: their one home (config
 * `identity.dev.ttl` takes its default from here).
 */
export const SELF_RENEWING_DEFAULTS = {
  // As the deploy manifests' cert-manager `duration`: renewing at ~70 % leaves ~7 h to
  // repair a failing CA (docs/operations.md, renewBefore ≥ T + P + R).
  ttlMs: 86_400_000,
  renewAtFraction: 0.7,
  jitter: 0.1,
  minBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  keyType: 'P-256',
} as const;
