import { Redis } from 'ioredis';
import { CertboundError } from '../../errors.js';
import type { ReplayStore } from './replay-store.js';

/** Where the Redis store reports outages (a logger's `warn`/`error`, or nothing). */
export interface ReplayStoreLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** Options of {@link createRedisReplayStore}. */
export interface RedisReplayStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  readonly url: string;
  /** Prefix of every key. Default `certbound:dpop:`. */
  readonly keyPrefix?: string | undefined;
  /** Longest wait for one `SET`, ms (then the proof is refused, or let through when failing open). Default 250. */
  readonly timeoutMs?: number | undefined;
  /**
   * When Redis cannot answer, accept proofs without the replay check instead of refusing
   * them (503). Replays then go undetected: logged at start and once per outage.
   */
  readonly failOpen?: boolean | undefined;
  readonly log?: ReplayStoreLog | undefined;
}

/** The URL without its password, for logs and readiness reasons. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

/**
 * The replay store shared by every replica: `SET key 1 PX ttl NX` (atomic: of two replicas
 * seeing the same proof at once, exactly one gets `OK`). No offline queue: while Redis is
 * unreachable each check fails at once instead of waiting (fail closed:
 * `ERR_DPOP_REPLAY_STORE_UNAVAILABLE`, 503), unless `failOpen`.
 *
 * @throws TypeError when `url` is not a redis:// or rediss:// URL
 */
export function createRedisReplayStore(options: RedisReplayStoreOptions): ReplayStore {
  if (!/^rediss?:\/\//i.test(options.url))
    throw new TypeError('the DPoP replay store url must be redis:// or rediss://');
  const prefix = options.keyPrefix ?? 'certbound:dpop:';
  const timeoutMs = options.timeoutMs ?? 250;
  const where = redactedUrl(options.url);
  const log = options.log;
  const redis = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, timeoutMs),
    // Reconnect quickly and for ever: the outage ends when Redis is back.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  });
  let lastError: string | undefined;
  let inOutage = false;
  const outage = (reason: string): void => {
    lastError = reason;
    if (inOutage) return;
    inOutage = true;
    log?.warn(
      { store: 'redis', url: where, reason, failOpen: options.failOpen === true },
      options.failOpen === true
        ? `DPoP replay store unreachable: FAILING OPEN, replayed proofs are NOT detected until it is back (${reason})`
        : `DPoP replay store unreachable: DPoP requests are refused with 503 until it is back (${reason})`,
    );
  };
  redis.on('error', (err: Error) => outage(err.message.slice(0, 200)));
  redis.on('close', () => {
    if (redis.status !== 'end') outage('connection closed');
  });
  redis.on('ready', () => {
    lastError = undefined;
    if (inOutage) log?.info({ store: 'redis', url: where }, 'DPoP replay store reachable again');
    inOutage = false;
  });
  if (options.failOpen === true)
    log?.warn(
      { store: 'redis', url: where, failOpen: true },
      'verify.dpop.replayStore.redis.failOpen is on: while Redis is unreachable, replayed DPoP proofs are accepted',
    );
  return {
    kind: 'redis',
    async remember(key, ttlMs) {
      try {
        const answer = await redis.set(prefix + key, '1', 'PX', ttlMs, 'NX');
        return answer === 'OK';
      } catch (err) {
        const reason = err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
        outage(reason);
        if (options.failOpen === true) return true;
        throw new CertboundError(
          'ERR_DPOP_REPLAY_STORE_UNAVAILABLE',
          `The DPoP replay store (${where}) cannot be reached; the proof is refused.`,
          { cause: err },
        );
      }
    },
    readinessProblem() {
      if (redis.status === 'ready') return undefined;
      return `the DPoP replay store ${where} is ${redis.status}${lastError !== undefined ? `: ${lastError}` : ''}`;
    },
    async close() {
      redis.disconnect();
      await Promise.resolve();
    },
  };
}
