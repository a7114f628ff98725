import { isDeepStrictEqual } from 'node:util';
import type { CertboundConfig } from '../config/schema.js';

/** What a reload changes: what applies live, and what keeps its old value until a restart. */
export interface ReloadPlan {
  /** Keys applied to the running sidecar, e.g. `inbound.policies`, `verify`. */
  readonly live: readonly ReloadableKey[];
  /**
   * Dotted keys that changed but need a restart (listener addresses and ports, identity,
   * limits, the token client, …): they keep their running values.
   */
  readonly restartRequired: readonly string[];
}

/** The keys a reload applies without a restart. */
export type ReloadableKey =
  'logLevel' | 'shutdownGrace' | 'inbound.policies' | 'verify' | 'outbound.upstreams';

const HTTP = (u: { protocol?: string }): boolean => u.protocol !== 'grpc';

/** Dotted keys under `prefix` where `a` and `b` differ (leaves, or a whole list). */
function changedKeys(a: unknown, b: unknown, prefix: string, out: string[]): void {
  if (isDeepStrictEqual(a, b)) return;
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(a) || !isMap(b)) {
    out.push(prefix || '(root)');
    return;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
    changedKeys(a[key], b[key], prefix ? `${prefix}.${key}` : key, out);
}

/**
 * Compares the running configuration with a new one. The log level, drain time, route
 * policies, the `verify` section (issuers, keys, limits) and HTTP upstreams are applied
 * live (`verify` only while one existed before and after: the listeners that use it are
 * built at start); every other change is reported as needing a restart.
 */
export function reloadPlanOf(running: CertboundConfig, next: CertboundConfig): ReloadPlan {
  const live: ReloadableKey[] = [];
  const restartRequired: string[] = [];
  const take = (key: ReloadableKey, a: unknown, b: unknown): void => {
    if (!isDeepStrictEqual(a, b)) live.push(key);
  };
  take('logLevel', running.logLevel, next.logLevel);
  take('shutdownGrace', running.shutdownGrace, next.shutdownGrace);
  if (running.inbound !== undefined && next.inbound !== undefined) {
    take('inbound.policies', running.inbound.policies, next.inbound.policies);
    changedKeys(
      { ...running.inbound, policies: undefined },
      { ...next.inbound, policies: undefined },
      'inbound',
      restartRequired,
    );
  } else changedKeys(running.inbound, next.inbound, 'inbound', restartRequired);
  if (running.verify !== undefined && next.verify !== undefined)
    take('verify', running.verify, next.verify);
  else changedKeys(running.verify, next.verify, 'verify', restartRequired);
  if (running.outbound !== undefined && next.outbound !== undefined) {
    const [a, b] = [running.outbound.upstreams, next.outbound.upstreams];
    take('outbound.upstreams', a.filter(HTTP), b.filter(HTTP));
    // The gRPC listener builds one forwarder per upstream at start.
    if (
      !isDeepStrictEqual(
        a.filter((u) => !HTTP(u)),
        b.filter((u) => !HTTP(u)),
      )
    )
      restartRequired.push('outbound.upstreams (protocol: grpc)');
    changedKeys(
      { ...running.outbound, upstreams: undefined },
      { ...next.outbound, upstreams: undefined },
      'outbound',
      restartRequired,
    );
  } else changedKeys(running.outbound, next.outbound, 'outbound', restartRequired);
  // Every other section (identity, token, admin, localApi, and any added later) needs a restart.
  const handled = new Set(['logLevel', 'shutdownGrace', 'inbound', 'verify', 'outbound']);
  const [a, b] = [running as Record<string, unknown>, next as Record<string, unknown>];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
    if (!handled.has(key)) changedKeys(a[key], b[key], key, restartRequired);
  return { live, restartRequired };
}
