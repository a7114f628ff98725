import type { BenchResult } from './harness.js';
import type { VariantResult } from './load-rounds.js';
import type { Scenario } from './report.js';

/** The measurements of one run that bound what a target can reach. */
export interface LimitInputs {
  scenarios: readonly Scenario[];
  verify: readonly BenchResult[];
  dpop: readonly BenchResult[];
  /** Resident memory, MiB: the sidecar idle and after load, and an empty `node`. */
  memory: { idle?: number; afterLoad?: number; emptyNode?: number };
  /** Median spawn → `/readyz` of the bundle, ms. */
  readyMs?: number;
  /** Verified-token cache hits and misses during the fresh-token scenario. */
  freshCache?: { hits: number; misses: number };
}

/** One issue-19 target with this run's value and the floor measured beside it. */
export interface TargetLimit {
  target: string;
  met: boolean;
  /** What bounds it, with figures from this run. */
  limit: string;
}

const f0 = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(0);
const f2 = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(2);

function variant(s: readonly Scenario[], title: string, name: string): VariantResult | undefined {
  return s.find((x) => x.title === title)?.results.find((r) => r.name === name);
}

function usOf(results: readonly BenchResult[], name: string): number | undefined {
  return results.find((r) => r.name === name)?.usPerOp;
}

/**
 * Each target of issue 19 next to the floor this same run measured under it (a bare proxy,
 * a bare relay, a pass-through interceptor, one signature, an empty node process), so the
 * bench output says what limits a target that is not met. The profiles behind these lines
 * are in bench/README.md ("What limits each target").
 */
export function targetLimits(
  names: {
    http: string;
    fresh: string;
    grpc: string;
    bare: string;
    certbound: string;
    haproxy: string;
    grpcDirect: string;
    grpcPassThrough: string;
    grpcInterceptor: string;
    grpcBare: string;
    grpcSidecar: string;
  },
  m: LimitInputs,
): TargetLimit[] {
  const s = m.scenarios;
  const bare = variant(s, names.http, names.bare);
  const reused = variant(s, names.http, names.certbound);
  const fresh = variant(s, names.fresh, names.certbound);
  const haproxyFresh = variant(s, names.fresh, names.haproxy);
  const gDirect = variant(s, names.grpc, names.grpcDirect);
  const gPass = variant(s, names.grpc, names.grpcPassThrough);
  const gIcpt = variant(s, names.grpc, names.grpcInterceptor);
  const gBare = variant(s, names.grpc, names.grpcBare);
  const gSide = variant(s, names.grpc, names.grpcSidecar);
  const ratio = (a?: VariantResult, b?: VariantResult): number =>
    a !== undefined && b !== undefined ? a.rps / b.rps : NaN;
  const cold = usOf(m.verify, 'certbound verify, cold cache');
  const sig = usOf(m.dpop, 'one ES256 signature check (node:crypto.verify)');
  const proof = usOf(m.dpop, 'DPoP proof check, ES256 key');
  const reusedRatio = ratio(reused, bare);
  const freshRatio = ratio(fresh, haproxyFresh);
  const icptRatio = ratio(gIcpt, gDirect);
  const sideRatio = ratio(gSide, gDirect);
  const proofRatio = proof !== undefined && sig !== undefined ? proof / sig : NaN;
  const looked = (m.freshCache?.hits ?? 0) + (m.freshCache?.misses ?? 0);
  const freshHitShare = looked > 0 ? (m.freshCache?.hits ?? 0) / looked : 0;
  return [
    {
      target: `token reused ≥ 0.90× the bare proxy (${f2(reusedRatio)}×)`,
      met: reusedRatio >= 0.9,
      limit: `certbound adds ${f0((reused?.serverCpuUsPerRequest ?? NaN) - (bare?.serverCpuUsPerRequest ?? NaN))} µs of CPU per request to the bare proxy's ${f0(bare?.serverCpuUsPerRequest)} µs, spread over the pipeline, header rewriting, histograms and the limiter (no certbound function above 1.5 % of a profile)`,
    },
    freshHitShare > 0.05
      ? {
          target: `fresh token ≥ 0.80× HAProxy (${f2(freshRatio)}×)`,
          met: false,
          limit: `not measured: ${f0(freshHitShare * 100)} % of the "fresh" tokens hit the verified-token cache (BENCH_FRESH_TOKENS below the cache size of 10 000)`,
        }
      : {
          target: `fresh token ≥ 0.80× HAProxy (${f2(freshRatio)}×)`,
          met: freshRatio >= 0.8,
          limit: `a fresh token costs ${f0((fresh?.serverCpuUsPerRequest ?? NaN) - (reused?.serverCpuUsPerRequest ?? NaN))} µs more than a reused one; one ES256 check alone ${f0(sig)} µs and the whole cold verify ${f0(cold)} µs in a loop, about twice that inside the sidecar; HAProxy's whole request: ${f0(haproxyFresh?.serverCpuUsPerRequest)} µs`,
        },
    {
      target: `gRPC interceptor ≥ 0.95× none (${f2(icptRatio)}×)`,
      met: icptRatio >= 0.95,
      limit: `grpc-js's own interception (a pass-through interceptor) is ${f2(ratio(gPass, gDirect))}×; certbound's interceptor ${f2(ratio(gIcpt, gPass))}× of the pass-through`,
    },
    {
      target: `gRPC through the sidecar ≥ 0.75× direct (${f2(sideRatio)}×)`,
      met: sideRatio >= 0.75,
      limit: `a bare Node HTTP/2 relay with no checks is ${f2(ratio(gBare, gDirect))}× direct (the floor of any Node relay); certbound is ${f2(ratio(gSide, gBare))}× the bare relay`,
    },
    {
      target: `RSS ≤ 64 MiB idle (${f0(m.memory.idle)}), ≤ 128 MiB after load (${f0(m.memory.afterLoad)})`,
      met: (m.memory.idle ?? Infinity) <= 64 && (m.memory.afterLoad ?? Infinity) <= 128,
      limit: `an empty node process is ${f0(m.memory.emptyNode)} MiB; after load the verified-token cache holds up to 10 000 tokens from the fresh-token scenario`,
    },
    {
      target: `spawn → /readyz ≤ 400 ms (${f0(m.readyMs)} ms, bundle)`,
      met: (m.readyMs ?? Infinity) <= 400,
      limit:
        'module loading and compiling: the bundle reads one file and only the chunks this configuration needs',
    },
    {
      target: `DPoP proof check ≤ 1.3× one ES256 verify (${f2(proofRatio)}×)`,
      met: proofRatio <= 1.3,
      limit: `the signature is ${f0(sig)} µs of the proof check's ${f0(proof)} µs; the rest is decoding the proof, the key-cache lookup, the ath and jti hashes and the htu check`,
    },
  ];
}

/** The targets as text lines: met or not, and what limits the ones not met. */
export function targetLimitsText(limits: readonly TargetLimit[]): string {
  return limits
    .map(
      (l) =>
        `  ${l.met ? 'met    ' : 'not met'} ${l.target}${l.met ? '' : `\n            limited by: ${l.limit}`}`,
    )
    .join('\n');
}
