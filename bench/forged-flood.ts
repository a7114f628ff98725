import { samplesOf } from './sidecar-launch.js';
import type { BenchEnv, ForgedKind } from './bench-env.js';
import { merge, percentile, type LatencyHistogram } from './latency-histogram.js';
import type { HttpLoadResult, LoadSpec } from './load-generator.js';
import { cpuSecondsOf, spawnTs } from './processes.js';
import type { Ratio } from './report.js';

/** The flood runs this much longer than the valid clients, so it covers their whole window. */
const FLOOD_MARGIN_MS = 500;

/** Shape of the flood measurement (same rounds as the other scenarios). */
export interface FloodOptions {
  rounds: number;
  roundMs: number;
  warmupMs: number;
  runWarmupMs: number;
  /** CPU both generators are pinned to (they share it). */
  cpu: number | undefined;
  /** Keep-alive connections of the valid clients, and as many of the flood. */
  connections: number;
  /** Called before each pair of runs with the round (0 = warm-up). */
  onRound?: (round: number) => void;
}

/** The valid clients' figures in one phase, over every measured round. */
export interface ValidFigures {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Transport errors + non-2xx answers to the valid token (should be 0). */
  failed: number;
  roundsRps: number[];
  /** Server CPU (sidecar + app) per request the sidecar answered in this phase, µs. */
  serverCpuUsPerRequest: number;
  /** The sidecar's own CPU per request it answered in this phase, µs. */
  sidecarCpuUsPerRequest: number;
  /** Mean CPU use of the valid clients' generator, % of one core. */
  generatorCpuPercent: number;
  firstError?: string;
}

/** What {@link benchForgedFlood} measured. */
export interface FloodResult {
  connections: number;
  /** The CPU both generators were pinned to; undefined when unpinned. */
  generatorsCpu: number | undefined;
  distinctForged: number;
  mix: Record<ForgedKind, number>;
  /** A: the valid clients alone. */
  alone: ValidFigures;
  /** B: the same valid clients while the flood runs. */
  underFlood: ValidFigures;
  flood: {
    /** Forged tokens refused in the flood's measured windows. */
    refused: number;
    seconds: number;
    refusalsPerSec: number;
    p50Ms: number;
    p99Ms: number;
    errors: number;
    /** Mean CPU use of the flood's generator, % of one core (it shares the valid one's CPU). */
    generatorCpuPercent: number;
    /** Answers by status over every flood run, warm-up included. */
    statuses: Record<string, number>;
    /** Forged tokens answered 2xx (must be 0: anything else is a FAIL). */
    accepted: number;
    /** Forged tokens sent in all, warm-up included; above `distinctForged` the file wrapped. */
    sent: number;
    firstError?: string;
  };
  /**
   * The sidecar's CPU per refused token: its CPU in the flood phase minus its valid
   * requests at the cost per request of phase A, over the refusals it counted, µs.
   */
  sidecarCpuUsPerRefused: number;
  /** The same with the app's CPU included (a refusal should cost the app nothing), µs. */
  serverCpuUsPerRefused: number;
  /** Inbound requests by `result/code` the sidecar counted during every flood run. */
  sidecarCounts: Record<string, number>;
}

type Counts = Map<string, number>;

/** `certbound_inbound_requests_total` by `result/code`, from the sidecar's `/metrics`. */
async function inboundCounts(adminPort: number): Promise<Counts> {
  const out: Counts = new Map();
  for (const { labels, value } of await samplesOf(adminPort, 'certbound_inbound_requests_total'))
    out.set(`${labels['result'] ?? '?'}/${labels['code'] ?? '?'}`, value);
  return out;
}

function addDelta(into: Record<string, number>, after: Counts, before: Counts): void {
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) into[k] = (into[k] ?? 0) + d;
  }
}

const sumWhere = (counts: Record<string, number>, result: string): number =>
  Object.entries(counts)
    .filter(([k]) => k.startsWith(`${result}/`))
    .reduce((s, [, v]) => s + v, 0);

/** One phase run: sidecar/app CPU and the sidecar's own counts around the generators. */
interface PhaseRun {
  valid: HttpLoadResult;
  flood?: HttpLoadResult;
  sidecarCpu: number;
  appCpu: number;
  counts: Record<string, number>;
}

/**
 * The forged-token flood (issue 19) against the running sidecar, in alternating rounds:
 * A, the valid clients alone (keep-alive, the reused token); B, the same clients while a
 * second generator process sends forged tokens back to back on as many connections. The
 * flood comes from a compromised workload: it holds a valid client certificate (`attacker`),
 * so it gets past the TLS handshake and every forged token reaches the verifier. Both
 * generators share one CPU. Every forged token answered 2xx is counted in `flood.accepted`.
 */
export async function benchForgedFlood(
  env: BenchEnv,
  sidecar: { pid: number; inboundPort: number; adminPort: number },
  appPid: number,
  o: FloodOptions,
): Promise<FloodResult> {
  const attacker = env.pki.workloads['attacker']!;
  const url = `https://127.0.0.1:${sidecar.inboundPort}/bench`;
  const base = { url, caPath: env.caPath, concurrency: o.connections };
  const validSpec = (durationMs: number): LoadSpec => ({
    ...base,
    certPath: env.client.certPath,
    keyPath: env.client.keyPath,
    tokensPath: env.tokens.reused,
    durationMs,
    warmupMs: o.runWarmupMs,
  });
  let nextForged = 0;
  const floodSpec = (durationMs: number): LoadSpec => ({
    ...base,
    certPath: attacker.paths.cert,
    keyPath: attacker.paths.key,
    tokensPath: env.tokens.forged,
    startIndex: nextForged,
    durationMs: durationMs + FLOOD_MARGIN_MS,
    warmupMs: o.runWarmupMs,
  });
  const generate = async (spec: LoadSpec): Promise<HttpLoadResult> => {
    const timeout = (spec.warmupMs ?? 0) + spec.durationMs + 60_000;
    const gen = await spawnTs<HttpLoadResult>('./load-generator.ts', spec, o.cpu, timeout);
    if (gen.child.exitCode === null) await new Promise((r) => gen.child.once('exit', r));
    return gen.first;
  };
  const phase = async (flooded: boolean, durationMs: number): Promise<PhaseRun> => {
    const before = await inboundCounts(sidecar.adminPort);
    const sidecar0 = cpuSecondsOf(sidecar.pid) ?? NaN;
    const app0 = cpuSecondsOf(appPid) ?? NaN;
    const [valid, flood] = await Promise.all([
      generate(validSpec(durationMs)),
      flooded ? generate(floodSpec(durationMs)) : Promise.resolve(undefined),
    ]);
    const sidecarCpu = (cpuSecondsOf(sidecar.pid) ?? NaN) - sidecar0;
    const appCpu = (cpuSecondsOf(appPid) ?? NaN) - app0;
    const counts: Record<string, number> = {};
    addDelta(counts, await inboundCounts(sidecar.adminPort), before);
    if (flood !== undefined) nextForged = flood.nextIndex;
    return { valid, ...(flood !== undefined ? { flood } : {}), sidecarCpu, appCpu, counts };
  };

  const alone: PhaseRun[] = [];
  const flooded: PhaseRun[] = [];
  const allFlood: PhaseRun[] = [];
  o.onRound?.(0);
  await phase(false, o.warmupMs);
  allFlood.push(await phase(true, o.warmupMs));
  for (let round = 1; round <= o.rounds; round++) {
    o.onRound?.(round);
    alone.push(await phase(false, o.roundMs));
    const b = await phase(true, o.roundMs);
    flooded.push(b);
    allFlood.push(b);
  }

  const answered = (runs: PhaseRun[]): number =>
    runs.reduce((s, r) => s + Object.values(r.counts).reduce((a, v) => a + v, 0), 0);
  const cpuOf = (runs: PhaseRun[], app: boolean): number =>
    runs.reduce((s, r) => s + r.sidecarCpu + (app ? r.appCpu : 0), 0);
  const validOf = (runs: PhaseRun[]): ValidFigures => {
    const vs = runs.map((r) => r.valid);
    const requests = vs.reduce((s, r) => s + r.requests, 0);
    const seconds = vs.reduce((s, r) => s + r.seconds, 0);
    const hist = merge(vs.map((r) => r.hist));
    const firstError = vs.find((r) => r.firstError !== undefined)?.firstError;
    return {
      requests,
      seconds,
      rps: requests / seconds,
      p50Ms: percentile(hist, 50),
      p99Ms: percentile(hist, 99),
      failed: vs.reduce((s, r) => s + r.errors + r.non2xx, 0),
      roundsRps: vs.map((r) => r.rps),
      generatorCpuPercent: vs.reduce((s, r) => s + r.cpuPercent, 0) / vs.length,
      serverCpuUsPerRequest: (cpuOf(runs, true) * 1e6) / answered(runs),
      sidecarCpuUsPerRequest: (cpuOf(runs, false) * 1e6) / answered(runs),
      ...(firstError !== undefined ? { firstError } : {}),
    };
  };

  const floods = flooded.map((r) => r.flood!);
  const statuses: Record<string, number> = {};
  const sidecarCounts: Record<string, number> = {};
  for (const r of allFlood) {
    for (const [s, n] of Object.entries(r.flood!.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
    for (const [k, n] of Object.entries(r.counts)) sidecarCounts[k] = (sidecarCounts[k] ?? 0) + n;
  }
  const floodHist: LatencyHistogram = merge(floods.map((r) => r.hist));
  const refused = floods.reduce((s, r) => s + r.non2xx, 0);
  const floodSeconds = floods.reduce((s, r) => s + r.seconds, 0);
  const firstFloodError = floods.find((r) => r.firstError !== undefined)?.firstError;
  const a = validOf(alone);
  // Refusals and valid answers of B as the sidecar counted them (warm-ups of both included,
  // like its CPU): the valid share at A's cost per request comes off B's CPU.
  const bRefused = flooded.reduce((s, r) => s + sumWhere(r.counts, 'rejected'), 0);
  const bOk = flooded.reduce((s, r) => s + sumWhere(r.counts, 'ok'), 0);
  return {
    connections: o.connections,
    generatorsCpu: o.cpu,
    distinctForged: env.tokens.forgedCount,
    mix: env.tokens.forgedMix,
    alone: a,
    underFlood: validOf(flooded),
    flood: {
      refused,
      seconds: floodSeconds,
      refusalsPerSec: refused / floodSeconds,
      p50Ms: percentile(floodHist, 50),
      p99Ms: percentile(floodHist, 99),
      errors: floods.reduce((s, r) => s + r.errors, 0),
      generatorCpuPercent: floods.reduce((s, r) => s + r.cpuPercent, 0) / floods.length,
      statuses,
      accepted: Object.entries(statuses)
        .filter(([s]) => s.startsWith('2'))
        .reduce((s, [, n]) => s + n, 0),
      sent: Object.values(statuses).reduce((s, n) => s + n, 0),
      ...(firstFloodError !== undefined ? { firstError: firstFloodError } : {}),
    },
    sidecarCpuUsPerRefused:
      (cpuOf(flooded, false) * 1e6 - bOk * a.sidecarCpuUsPerRequest) / bRefused,
    serverCpuUsPerRefused: (cpuOf(flooded, true) * 1e6 - bOk * a.serverCpuUsPerRequest) / bRefused,
    sidecarCounts,
  };
}

const pct = (n: number, total: number): string => `${((n / total) * 100).toFixed(0)} %`;

/** The mix of the forged-token file, e.g. "85 % bad signature, 5 % unknown kid, …". */
export function mixText(r: Pick<FloodResult, 'mix' | 'distinctForged'>): string {
  return Object.entries(r.mix)
    .map(([kind, n]) => `${pct(n, r.distinctForged)} ${kind.replace('-', ' ')}`)
    .join(', ');
}

/** The sidecar's refusals during the flood runs by code, with their share of all refusals. */
function codesText(r: FloodResult): string {
  const refusals = Object.entries(r.sidecarCounts).filter(([k]) => !k.startsWith('ok/'));
  const total = refusals.reduce((s, [, n]) => s + n, 0);
  return refusals
    .sort((x, y) => y[1] - x[1])
    .map(([k, n]) => `${k.slice(k.indexOf('/') + 1)} ${n} (${pct(n, total)})`)
    .join(', ');
}

/** The scenario's title line: connections, the forged-token mix and where the generators run. */
export function floodTitle(env: BenchEnv, connections: number, cpu: number | undefined): string {
  const mix = mixText({ mix: env.tokens.forgedMix, distinctForged: env.tokens.forgedCount });
  return `forged-token flood: ${connections} valid keep-alive connections (reused token) alone, then while ${connections} more connections with a valid client certificate (a compromised workload, \`attacker\`) send ${env.tokens.forgedCount} distinct forged tokens back to back (${mix}; minted in ${env.tokens.forgedMintMs.toFixed(0)} ms); both generators ${cpu !== undefined ? `share CPU ${cpu}` : 'unpinned'}`;
}

/** Console lines of the flood scenario; a forged token answered 2xx is a loud FAIL line. */
export function floodText(r: FloodResult): string {
  const spread = (v: ValidFigures): string =>
    `${Math.min(...v.roundsRps).toFixed(0)}–${Math.max(...v.roundsRps).toFixed(0)}`;
  const row = (name: string, v: ValidFigures, forged: string): string =>
    `  ${name.padEnd(34)} ${v.rps.toFixed(0).padStart(11)} ${v.p50Ms.toFixed(2).padStart(7)} ${v.p99Ms.toFixed(2).padStart(7)} ${forged.padStart(16)} ${v.serverCpuUsPerRequest.toFixed(0).padStart(14)} ${v.sidecarCpuUsPerRequest.toFixed(0).padStart(12)} ${`${v.generatorCpuPercent.toFixed(0)}%`.padStart(7)}  ${spread(v).padEnd(11)} ${v.failed}`;
  const lines = [
    `  ${'phase'.padEnd(34)} ${'valid req/s'.padStart(11)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'forged refused/s'.padStart(16)} ${'srv µs/answer'.padStart(14)} ${'sidecar µs/a'.padStart(12)} ${'gen CPU'.padStart(7)}  rounds      valid failed`,
    row('valid clients alone', r.alone, '—'),
    row('valid clients during the flood', r.underFlood, r.flood.refusalsPerSec.toFixed(0)),
    `  flood: p50 ${r.flood.p50Ms.toFixed(2)} ms, p99 ${r.flood.p99Ms.toFixed(2)} ms per refusal, its generator at ${r.flood.generatorCpuPercent.toFixed(0)}% CPU (same CPU as the valid one); answers over every flood run: ${Object.entries(
      r.flood.statuses,
    )
      .map(([s, n]) => `${s} × ${n}`)
      .join(
        ', ',
      )}; ${r.flood.errors} transport errors${r.flood.firstError !== undefined ? ` (${r.flood.firstError})` : ''}`,
    `  ${r.flood.sent} forged tokens sent from ${r.distinctForged} distinct (each used ≤ ${Math.ceil(r.flood.sent / r.distinctForged)}×; certbound caches only verified tokens)`,
    `  sidecar CPU per refused forged token: ${r.sidecarCpuUsPerRefused.toFixed(0)} µs (with the app: ${r.serverCpuUsPerRefused.toFixed(0)} µs); the flood phase's CPU minus its valid requests at the alone-phase cost per request`,
    `  refusals the sidecar counted during the flood runs, by code: ${codesText(r)}; answered ok: ${sumWhere(r.sidecarCounts, 'ok')}`,
  ];
  if (r.flood.accepted > 0) {
    lines.push(`  FAIL: ${r.flood.accepted} FORGED TOKENS WERE ANSWERED 2xx`);
  }
  return lines.join('\n');
}

/** Markdown of the flood scenario for latest.md. */
export function floodMarkdown(r: FloodResult): string {
  const row = (name: string, v: ValidFigures, forged: string): string =>
    `| ${name} | ${v.rps.toFixed(0)} | ${v.p50Ms.toFixed(2)} | ${v.p99Ms.toFixed(2)} | ${forged} | ${v.serverCpuUsPerRequest.toFixed(0)} |`;
  return [
    `Forged-token flood: ${r.connections} valid keep-alive connections (reused token), then the same while ${r.connections} more connections from a compromised workload (valid client certificate) send ${r.distinctForged} distinct forged tokens back to back (${mixText(r)}); ${r.generatorsCpu !== undefined ? `both generators on CPU ${r.generatorsCpu}` : 'generators unpinned'}.`,
    '',
    '| phase | valid req/s | valid p50 ms | valid p99 ms | forged refused/s | server CPU µs per answer (valid + refused) |',
    '|---|---:|---:|---:|---:|---:|',
    row('valid clients alone', r.alone, '—'),
    row('valid clients during the flood', r.underFlood, r.flood.refusalsPerSec.toFixed(0)),
    '',
    `Sidecar CPU per refused forged token: ${r.sidecarCpuUsPerRefused.toFixed(0)} µs (the flood phase's CPU minus its valid requests at the alone-phase cost). Refusals by code: ${codesText(r)}. Forged tokens answered 2xx: ${r.flood.accepted}${r.flood.accepted > 0 ? ' — **FAIL**' : ''}.`,
  ].join('\n');
}

/** The headline ratios of the flood: valid req/s and valid p99, during / without. */
export function floodRatios(r: FloodResult): Ratio[] {
  return [
    {
      name: 'valid req/s during a forged-token flood / without',
      value: r.underFlood.rps / r.alone.rps,
    },
    {
      name: 'valid p99 during a forged-token flood / without',
      value: r.underFlood.p99Ms / r.alone.p99Ms,
    },
  ];
}
