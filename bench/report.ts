import type { BenchResult } from './harness.js';
import type { VariantResult } from './load-rounds.js';

/** One scenario: variants measured side by side and the one the ratios are against. */
export interface Scenario {
  title: string;
  baseline: string;
  results: VariantResult[];
}

/** A named ratio with its target (report only, never asserted). */
export interface Ratio {
  name: string;
  value: number;
  target?: number;
}

function ratioOf(s: Scenario, r: VariantResult): number {
  const base = s.results.find((b) => b.name === s.baseline);
  return base ? r.rps / base.rps : NaN;
}

function spread(r: VariantResult): string {
  if (r.roundsRps.length === 0) return '';
  const min = Math.min(...r.roundsRps);
  const max = Math.max(...r.roundsRps);
  return `${min.toFixed(0)}–${max.toFixed(0)}`;
}

function failures(r: VariantResult): string {
  return r.errors + r.non2xx === 0 ? '0' : `${r.errors}+${r.non2xx}`;
}

/** Plain-text table of one scenario (for the console). */
export function scenarioText(s: Scenario): string {
  const head = `  ${'variant'.padEnd(46)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'ratio'.padStart(6)} ${'srv CPU µs/req'.padStart(14)} ${'gen CPU'.padStart(7)}  rounds req/s   failed`;
  const rows = s.results.map(
    (r) =>
      `  ${r.name.padEnd(46)} ${r.rps.toFixed(0).padStart(8)} ${r.p50Ms.toFixed(2).padStart(7)} ${r.p99Ms.toFixed(2).padStart(7)} ${ratioOf(s, r).toFixed(2).padStart(5)}× ${r.serverCpuUsPerRequest.toFixed(0).padStart(14)} ${`${r.generatorCpuPercent.toFixed(0)}%`.padStart(7)}  ${spread(r).padEnd(13)} ${failures(r)}`,
  );
  return [`${s.title} (ratio vs "${s.baseline}")`, head, ...rows].join('\n');
}

/** Markdown table of every load scenario, one row per variant. */
export function scenariosMarkdown(scenarios: readonly Scenario[]): string {
  const lines = [
    '| scenario | variant | req/s | p50 ms | p99 ms | ratio to baseline | server CPU µs/req |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const s of scenarios) {
    for (const r of s.results) {
      const ratio = r.name === s.baseline ? '1.00 (baseline)' : `${ratioOf(s, r).toFixed(2)}×`;
      lines.push(
        `| ${s.title} | ${r.name} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${ratio} | ${r.serverCpuUsPerRequest.toFixed(0)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Markdown table of the verify micro-benchmark. */
export function verifyMarkdown(results: readonly BenchResult[], baseline: string): string {
  const base = results.find((r) => r.name === baseline);
  const lines = ['| case | ops/s | µs/op | ratio |', '|---|---:|---:|---:|'];
  for (const r of results) {
    const ratio = base ? (r.opsPerSec / base.opsPerSec).toFixed(2) : 'n/a';
    lines.push(`| ${r.name} | ${r.opsPerSec.toFixed(0)} | ${r.usPerOp.toFixed(2)} | ${ratio}× |`);
  }
  return lines.join('\n');
}

/** The headline ratios, with their targets where the issues set one. */
export function ratiosText(ratios: readonly Ratio[]): string {
  return ratios
    .map((r) => {
      const target =
        r.target === undefined
          ? ''
          : ` (target ≥ ${r.target.toFixed(2)}×: ${r.value >= r.target ? 'met' : 'not met'})`;
      return `  ${r.name.padEnd(52)} ${Number.isFinite(r.value) ? r.value.toFixed(2) : 'n/a'}×${target}`;
    })
    .join('\n');
}

/**
 * The ratio of a measure of two variants of one scenario (NaN when one is missing): req/s
 * by default, or server CPU per request.
 */
export function ratioBetween(
  scenarios: readonly Scenario[],
  scenario: string,
  a: string,
  b: string,
  measure: 'rps' | 'serverCpuUsPerRequest' = 'rps',
): number {
  const s = scenarios.find((x) => x.title === scenario);
  const ra = s?.results.find((r) => r.name === a);
  const rb = s?.results.find((r) => r.name === b);
  return ra && rb ? ra[measure] / rb[measure] : NaN;
}

/** {@link ratioBetween} of server CPU per request. */
export function cpuRatioBetween(
  scenarios: readonly Scenario[],
  scenario: string,
  a: string,
  b: string,
): number {
  return ratioBetween(scenarios, scenario, a, b, 'serverCpuUsPerRequest');
}

/** Markdown table of the headline ratios: req/s and server CPU per request side by side. */
export function ratiosMarkdown(rps: readonly Ratio[], cpu: readonly Ratio[]): string {
  const lines = [
    '| comparison | req/s ratio | target | server CPU/req ratio |',
    '|---|---:|---:|---:|',
  ];
  for (const r of rps) {
    const c = cpu.find((x) => x.name === r.name);
    const fmt = (v: number | undefined): string =>
      v !== undefined && Number.isFinite(v) ? `${v.toFixed(2)}×` : '—';
    const target = r.target === undefined ? '—' : `≥ ${r.target.toFixed(2)}×`;
    lines.push(`| ${r.name} | ${fmt(r.value)} | ${target} | ${fmt(c?.value)} |`);
  }
  return lines.join('\n');
}
