import { nameOverrides } from '../config/env-overrides.js';
import type { CertboundConfig } from '../config/schema.js';
import { CertboundError, isCertboundError } from '../errors.js';
import type { ProofSources } from '../verify/proof-inputs.js';
import type { X509Source } from '../identity/x509-source.js';
import type { Logger } from '../observability/logger.js';
import type { SidecarMetrics } from '../observability/metrics.js';
import type { TokenClient } from '../token/token-client.js';
import type { Verifier } from '../verify/create-verifier.js';
import { compilePolicies } from '../verify/policy.js';
import { tokenRequestOf } from './config-files.js';
import { reloadPlanOf, type ReloadableKey } from './config-reload.js';
import type { OutboundListener } from './outbound/outbound-proxy.js';
import type { InboundPolicies } from './start-inbound.js';
import type { SwappableVerifier } from './swappable-verifier.js';
import { assertProfile } from '../config/fapi2-profile.js';
import { verifierMetricHooks, verifierPlanOf } from './verifier-of-config.js';

/** The outcome of one reload. */
export type ReloadOutcome =
  | {
      readonly ok: true;
      /** What was applied live. */
      readonly applied: readonly ReloadableKey[];
      /** Changed keys that keep their running value until a restart. */
      readonly restartRequired: readonly string[];
    }
  | { readonly ok: false; readonly error: CertboundError };

/** What a reload may swap in a running sidecar, and where it reports. */
export interface ReloadTargets {
  readonly logger: Logger;
  readonly metrics: SidecarMetrics;
  readonly source: X509Source;
  /**
   * The proofs besides the connection's certificate (forwarded certificates, the DPoP
   * verifier and its replay store), built at start and kept by a rebuilt verifier.
   */
  readonly proofSources?: ProofSources | undefined;
  readonly verifier: SwappableVerifier | undefined;
  readonly live: { policies: InboundPolicies };
  readonly outbound: OutboundListener | undefined;
  readonly tokens: TokenClient | undefined;
  /** The configuration in force (its live parts are replaced on success). */
  running: CertboundConfig;
}

function asCertboundError(err: unknown): CertboundError {
  if (isCertboundError(err)) return err;
  return new CertboundError(
    'ERR_CONFIG_INVALID',
    `the new configuration cannot be applied: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

/**
 * Reloads the configuration (SIGHUP) without dropping a connection: the new file is read and
 * validated, and every file it names is read, before anything changes; a new verifier must
 * fetch its keys first. Then the live parts are swapped at once — log level, drain time,
 * route policies, the verifier (issuers, keys, limits), HTTP upstreams — and what needs a
 * restart (listener addresses, identity, token client, limits) is logged and keeps its
 * running value. On any failure nothing changes and the running configuration stays.
 * Reloads run one at a time, in order.
 */
export function createReloader(
  targets: ReloadTargets,
): (load: () => Promise<CertboundConfig>) => Promise<ReloadOutcome> {
  const log = targets.logger.child({ component: 'reload' });
  for (const result of ['success', 'failure']) targets.metrics.configReloads.inc({ result }, 0);
  let queue: Promise<unknown> = Promise.resolve();

  async function apply(load: () => Promise<CertboundConfig>): Promise<ReloadOutcome> {
    let next: CertboundConfig | undefined;
    let built: Verifier | undefined;
    const running = targets.running;
    try {
      next = await load();
      // FAPI 2.0: a reload that breaks the profile is refused like any bad file.
      assertProfile(next);
      const plan = reloadPlanOf(running, next);
      const applies = (key: ReloadableKey): boolean => plan.live.includes(key);
      if (applies('inbound.policies')) compilePolicies(next.inbound?.policies ?? []);
      if (applies('verify') && next.verify !== undefined && targets.verifier !== undefined) {
        const vplan = await verifierPlanOf(next.verify, next.profile);
        const hooks = verifierMetricHooks(targets.metrics);
        const fresh = vplan.build(
          targets.source,
          hooks.onIntrospection,
          hooks.onJwksFetch,
          targets.proofSources,
        );
        built = fresh;
        // A verifier without keys would refuse every token: fetch them before the swap.
        if (vplan.remoteKeys) await fresh.refreshKeys();
      }
      // Nothing below can fail: the swap is all or nothing.
      if (applies('logLevel')) targets.logger.level = next.logLevel;
      if (applies('inbound.policies') && next.inbound !== undefined)
        targets.live.policies = next.inbound.policies;
      if (built !== undefined) targets.verifier?.swap(built, next.shutdownGrace);
      if (applies('outbound.upstreams') && next.outbound !== undefined) {
        const http = next.outbound.upstreams.filter((u) => u.protocol !== 'grpc');
        targets.outbound?.setUpstreams(http);
        void targets.tokens?.warmUp(http.map(tokenRequestOf));
      }
      // The running configuration keeps the values that need a restart.
      targets.running = {
        ...running,
        logLevel: next.logLevel,
        shutdownGrace: next.shutdownGrace,
        ...(built !== undefined ? { verify: next.verify } : {}),
        ...(running.inbound !== undefined && next.inbound !== undefined
          ? { inbound: { ...running.inbound, policies: next.inbound.policies } }
          : {}),
        ...(running.outbound !== undefined &&
        next.outbound !== undefined &&
        applies('outbound.upstreams')
          ? {
              outbound: {
                ...running.outbound,
                upstreams: [
                  ...next.outbound.upstreams.filter((u) => u.protocol !== 'grpc'),
                  ...running.outbound.upstreams.filter((u) => u.protocol === 'grpc'),
                ],
              },
            }
          : {}),
      };
      targets.metrics.configReloads.inc({ result: 'success' });
      if (plan.restartRequired.length > 0)
        log.warn(
          { restartRequired: plan.restartRequired },
          `configuration reloaded; these changes need a restart and keep their running values: ${plan.restartRequired.join(', ')}`,
        );
      log.info({ applied: plan.live }, 'configuration reloaded');
      return { ok: true, applied: plan.live, restartRequired: plan.restartRequired };
    } catch (err) {
      if (built !== undefined) await built.close().catch(() => undefined);
      // A value set by a CERTBOUND_* variable is named, as at start.
      const error =
        next !== undefined ? nameOverrides(next, asCertboundError(err)) : asCertboundError(err);
      targets.metrics.configReloads.inc({ result: 'failure' });
      log.error(
        { code: error.code, ...error.details },
        `configuration reload refused, keeping the running configuration: ${error.code}: ${error.message}`,
      );
      return { ok: false, error };
    }
  }

  return (load) => {
    const run = queue.then(() => apply(load));
    queue = run.catch(() => undefined);
    return run;
  };
}
