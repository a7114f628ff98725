export { createDpopVerifier, type CertboundDpopVerifier } from './dpop-verifier.js';
export {
  DPOP_DEFAULTS,
  DPOP_DEFAULT_ALGORITHMS,
  type DpopVerifierOptions,
  type DpopNonceOptions,
} from './dpop-options.js';
export { DPOP_DETAILS } from './dpop-challenge.js';
export type { ReplayStore } from './replay-store.js';
export { createMemoryReplayStore, type MemoryReplayStoreOptions } from './memory-replay-store.js';
export {
  createRedisReplayStore,
  type RedisReplayStoreOptions,
  type ReplayStoreLog,
} from './redis-replay-store.js';
export { normaliseHtu } from './htu.js';
