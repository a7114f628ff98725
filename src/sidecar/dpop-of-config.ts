import type { ProfileName } from '../config/profile.js';
import { FAPI2_ALGORITHMS } from '../verify/options.js';
import type { DpopConfig } from '../config/dpop-schema.js';
import { CertboundError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { SidecarMetrics } from '../observability/metrics.js';
import { createDpopVerifier, type CertboundDpopVerifier } from '../verify/dpop/dpop-verifier.js';
import { createMemoryReplayStore } from '../verify/dpop/memory-replay-store.js';
import { readConfiguredFile } from './config-files.js';

/** The `/readyz` key of the DPoP replay store. */
export const DPOP_READINESS_NAME = 'dpopReplayStore';

/**
 * Counts one DPoP result in the metrics: every result in `certbound_dpop_proofs_total`,
 * replays and nonce challenges in their own counters. Label sets bound once.
 */
function dpopResultCounter(metrics: SidecarMetrics): (result: string) => void {
  const ok = metrics.dpopProofs.labels({ result: 'ok' });
  return (result) => {
    if (result === 'ok') return ok.inc();
    metrics.dpopProofs.inc({ result });
    if (result === 'ERR_DPOP_REPLAY') metrics.dpopReplayHits.inc();
    else if (result === 'ERR_DPOP_NONCE_REQUIRED' || result === 'ERR_DPOP_NONCE_INVALID')
      metrics.dpopNonceChallenges.inc();
  };
}

/**
 * Builds the DPoP verifier of `verify.dpop`: reads the nonce key file, opens the replay
 * store (Redis connects in the background; `/readyz` says when it is reachable).
 *
 * @throws CertboundError `ERR_CONFIG_INVALID` without `inbound.publicOrigin` or with a short
 *   nonce key, `ERR_FILE_UNREADABLE` when the key file cannot be read
 */
export async function dpopVerifierOf(
  config: DpopConfig,
  publicOrigin: string | undefined,
  logger?: Logger,
  metrics?: SidecarMetrics,
  profile?: ProfileName,
): Promise<CertboundDpopVerifier> {
  // FAPI 2.0 §5.4.1: proof keys sign with PS256, ES256 or EdDSA only, whatever the list says.
  const fapiAlgorithms: readonly string[] = FAPI2_ALGORITHMS;
  const algorithms =
    profile === 'fapi2'
      ? config.algorithms.filter((alg) => fapiAlgorithms.includes(alg))
      : config.algorithms;
  if (algorithms.length === 0)
    throw new CertboundError(
      'ERR_CONFIG_INVALID',
      `verify.dpop.algorithms: profile fapi2 (§5.4.1) allows only ${FAPI2_ALGORITHMS.join(', ')} for DPoP proofs`,
    );
  if (publicOrigin === undefined)
    throw new CertboundError(
      'ERR_CONFIG_INVALID',
      'verify.dpop needs inbound.publicOrigin (the https://host[:port] clients call: DPoP htu is checked against it), e.g. publicOrigin: https://api.example.com',
    );
  let key: Uint8Array | undefined;
  if (config.nonce?.keyFile !== undefined) {
    const text = (
      await readConfiguredFile(config.nonce.keyFile, 'verify.dpop.nonce.keyFile')
    ).trim();
    key = Buffer.from(text, 'utf8');
    if (key.byteLength < 32)
      throw new CertboundError(
        'ERR_CONFIG_INVALID',
        `verify.dpop.nonce.keyFile (${config.nonce.keyFile}) holds fewer than 32 bytes; write one with: openssl rand -base64 48`,
      );
  }
  const log = logger?.child({ component: 'dpop' });
  // ioredis (≈ 10 MiB resident) is loaded only when a Redis store is configured.
  const store =
    'redis' in config.replayStore
      ? (await import('../verify/dpop/redis-replay-store.js')).createRedisReplayStore({
          url: config.replayStore.redis.url,
          keyPrefix: config.replayStore.redis.keyPrefix,
          timeoutMs: config.replayStore.redis.timeout,
          failOpen: config.replayStore.redis.failOpen,
          ...(log !== undefined ? { log } : {}),
        })
      : createMemoryReplayStore({ maxEntries: config.replayStore.memory.maxEntries });
  try {
    return createDpopVerifier({
      publicOrigin,
      algorithms,
      iatWindowMs: config.iatWindow,
      maxProofBytes: config.maxProofBytes,
      ...(config.nonce !== undefined ? { nonce: { key, stepMs: config.nonce.step } } : {}),
      replayStore: store,
      ...(metrics !== undefined ? { onResult: dpopResultCounter(metrics) } : {}),
    });
  } catch (err) {
    await store.close?.();
    throw new CertboundError(
      'ERR_CONFIG_INVALID',
      `verify.dpop / inbound.publicOrigin: ${err instanceof Error ? err.message : 'invalid'}`,
    );
  }
}
