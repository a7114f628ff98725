import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { createBenchEnv, type BenchEnv } from './bench-env.js';
import { ensureHaproxy, startHaproxy } from './haproxy.js';
import { runRounds, type LoadVariant, type RoundOptions } from './load-rounds.js';
import { freePort, waitForPort } from '../test/support/loopback-ports.js';
import { idleNodeMemory, memoryOf, pinning, spawnTs, stop } from './processes.js';
import {
  cpuRatioBetween,
  ratioBetween,
  ratiosMarkdown,
  ratiosText,
  scenariosMarkdown,
  scenarioText,
  verifyMarkdown,
  type Ratio,
  type Scenario,
} from './report.js';
import { benchConnectionChurn } from './connection-churn.js';
import { checkGrpc, checkHttp, type CheckResult } from './same-job-checks.js';
import { counterOf, startSidecarUnderTest, type SidecarUnderTest } from './sidecar-launch.js';
import { benchDpop } from './dpop.js';
import {
  benchForgedFlood,
  floodMarkdown,
  floodRatios,
  floodText,
  floodTitle,
} from './forged-flood.js';
import { benchOutboundDpop } from './outbound-dpop.js';
import { benchStartup } from './startup.js';
import { targetLimits, targetLimitsText } from './target-limits.js';
import { benchVerify } from './verify.js';

// Knobs for a quick trial run (`BENCH_ROUNDS=1 BENCH_ROUND_MS=500 make bench`).
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const ROUND_MS = Number(process.env['BENCH_ROUND_MS'] ?? 4_000);
const WARMUP_MS = Math.min(1_500, ROUND_MS);
const RUN_WARMUP_MS = 600;
const CONCURRENCY = 16;
const FRESH_TOKENS = Number(process.env['BENCH_FRESH_TOKENS'] ?? 30_000);
// `BENCH_PREVIOUS_CLI=/path/to/old/dist/src/cli/main.js make bench` adds the previous build
// as a variant of the sidecar rows, measured side by side in the same rounds.
const PREVIOUS_CLI = process.env['BENCH_PREVIOUS_CLI'];

const HTTP = 'HTTP inbound, token reused';
const FRESH = 'HTTP inbound, fresh token per request';
const GRPC = 'gRPC unary, token reused';
const V = {
  direct: 'direct mTLS to the app (no proxy)',
  bare: 'bare Node mTLS proxy (no checks)',
  certbound: 'certbound sidecar',
  certboundLog: 'certbound sidecar, access log on',
  haproxy: 'HAProxy 2.6 (mTLS + jwt_verify + cnf)',
  grpcDirect: 'grpc-js server, no interceptor',
  grpcInterceptor: 'grpc-js server + boundTokenServerInterceptor',
  grpcPassThrough: 'grpc-js server + a pass-through interceptor (no checks)',
  grpcSidecar: 'certbound sidecar → grpc-js app (h2c)',
  grpcBare: 'bare Node HTTP/2 relay (no checks) → app (h2c)',
  previous: 'certbound sidecar, previous build',
  grpcPrevious: 'certbound sidecar, previous build → grpc-js app',
} as const;

const log = (line: string): void => console.log(line);
const mib = (m: ReturnType<typeof memoryOf>): string =>
  m === undefined
    ? 'n/a'
    : `${m.rssMiB.toFixed(1)} MiB (anonymous ${m.anonMiB.toFixed(1)}, file-backed ${m.fileMiB.toFixed(1)}; peak ${m.hwmMiB.toFixed(1)} MiB)`;

function httpVariant(
  env: BenchEnv,
  name: string,
  port: number,
  tokens: string,
  serverPids: number[],
): LoadVariant {
  return {
    name,
    serverPids,
    generator: './load-generator.ts',
    spec: ({ startIndex, durationMs, warmupMs }) => ({
      url: `https://127.0.0.1:${port}/bench`,
      certPath: env.client.certPath,
      keyPath: env.client.keyPath,
      caPath: env.caPath,
      tokensPath: tokens,
      startIndex,
      concurrency: CONCURRENCY,
      durationMs,
      warmupMs,
    }),
  };
}

function grpcVariant(env: BenchEnv, name: string, port: number, serverPids: number[]): LoadVariant {
  return {
    name,
    serverPids,
    generator: './grpc-load-generator.ts',
    spec: ({ startIndex, durationMs, warmupMs }) => ({
      target: `127.0.0.1:${port}`,
      certPath: env.client.certPath,
      keyPath: env.client.keyPath,
      caPath: env.caPath,
      tokensPath: env.tokens.reused,
      startIndex,
      concurrency: CONCURRENCY,
      durationMs,
      warmupMs,
    }),
  };
}

/** `make bench`: every benchmark in one run; prints tables and writes bench/results/latest.{json,md}. */
async function main(): Promise<void> {
  const started = new Date();
  const pin = pinning();
  const load = loadavg().map((l) => l.toFixed(2));
  log(
    `certbound bench — ${started.toISOString()} — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`,
  );
  log(`load average at start: ${load.join(' ')}; ${pin.note}`);
  log(
    `${ROUNDS} alternating rounds × ${ROUND_MS} ms per variant (+${WARMUP_MS} ms warm-up run, ${RUN_WARMUP_MS} ms unmeasured at each run's start), ${CONCURRENCY} concurrent keep-alive connections/calls`,
  );
  const report: Record<string, unknown> = {
    date: started.toISOString(),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model,
    node: process.version,
    loadAverageAtStart: loadavg(),
    pinning: pin.note,
    method: {
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      warmupMs: WARMUP_MS,
      runWarmupMs: RUN_WARMUP_MS,
      concurrency: CONCURRENCY,
    },
  };

  // 1. In-process micro-benchmark first, while no server runs.
  const verify = await benchVerify();
  log(`\n${verify.table}`);
  report['verify'] = verify.results;
  const dpop = await benchDpop();
  log(`\n${dpop.table}`);
  report['dpop'] = dpop.results;
  // Outbound: DPoP (a fresh proof per request) side by side with the mTLS Bearer path.
  const outboundDpop = await benchOutboundDpop();
  log(`\n${outboundDpop.table}`);
  report['outboundDpop'] = outboundDpop.results;

  const children: ChildProcess[] = [];
  const sidecars: SidecarUnderTest[] = [];
  const mintStart = performance.now();
  const env = await createBenchEnv(FRESH_TOKENS);
  log(
    `\nminted ${FRESH_TOKENS} distinct bound ES256 tokens in ${((performance.now() - mintStart) / 1000).toFixed(1)} s`,
  );
  try {
    // 2. Servers under test, each a separate process pinned to the servers' CPU.
    const tlsFiles = {
      certPath: env.server.certPath,
      keyPath: env.server.keyPath,
      caPath: env.caPath,
    };
    const app = await spawnTs<{ plainPort: number; tlsPort: number }>(
      './app-server.ts',
      tlsFiles,
      pin.server,
    );
    children.push(app.child);
    const appUrl = `http://127.0.0.1:${app.first.plainPort}`;
    const appPid = app.child.pid!;
    const grpcApp = await spawnTs<{
      directPort: number;
      passThroughPort: number;
      interceptorPort: number;
      plainPort: number;
    }>(
      './grpc-echo-server.ts',
      {
        ...tlsFiles,
        jwksPath: env.jwksPath,
        issuer: env.issuer.issuer,
        audience: env.issuer.audience,
      },
      pin.server,
    );
    children.push(grpcApp.child);
    const grpcPid = grpcApp.child.pid!;
    const bare = await spawnTs<{ port: number }>(
      './bare-proxy.ts',
      { ...tlsFiles, appUrl },
      pin.server,
    );
    children.push(bare.child);
    const bareGrpc = await spawnTs<{ port: number }>(
      './bare-grpc-relay.ts',
      { ...tlsFiles, appUrl: `http://127.0.0.1:${grpcApp.first.plainPort}` },
      pin.server,
    );
    children.push(bareGrpc.child);
    const sidecar = await startSidecarUnderTest(env, {
      name: 'sidecar',
      appUrl,
      grpcAppUrl: `http://127.0.0.1:${grpcApp.first.plainPort}`,
      logLevel: 'warn',
      cpu: pin.server,
    });
    sidecars.push(sidecar);
    const previous =
      PREVIOUS_CLI !== undefined
        ? await startSidecarUnderTest(env, {
            name: 'sidecar-previous',
            appUrl,
            grpcAppUrl: `http://127.0.0.1:${grpcApp.first.plainPort}`,
            logLevel: 'warn',
            cpu: pin.server,
            cli: PREVIOUS_CLI,
          })
        : undefined;
    if (previous !== undefined) sidecars.push(previous);
    const sidecarLog = await startSidecarUnderTest(env, {
      name: 'sidecar-log',
      appUrl,
      logLevel: 'info',
      cpu: pin.server,
    });
    sidecars.push(sidecarLog);
    await new Promise((r) => setTimeout(r, 1_000));
    const idle = memoryOf(sidecar.pid);
    const nodeFloor = await idleNodeMemory(pin.server);
    log(
      `sidecar start → /readyz 200: ${sidecar.readyMs.toFixed(0)} ms (second instance ${sidecarLog.readyMs.toFixed(0)} ms); idle memory ${mib(idle)}`,
    );
    log(`the floor: node running an empty script uses ${mib(nodeFloor)}`);
    const startup = await benchStartup(env, appUrl, pin.server);
    for (const st of startup) {
      log(
        `start → /readyz 200, ${st.name}: median ${st.medianMs.toFixed(0)} ms of ${st.readyMs.map((t) => t.toFixed(0)).join(' / ')}`,
      );
    }

    const haproxy = ensureHaproxy();
    log(`HAProxy: ${haproxy.note}`);
    let haproxyPort: number | undefined;
    let haproxyPid = NaN;
    if (haproxy.path !== undefined) {
      haproxyPort = await freePort();
      const child = await startHaproxy(
        haproxy.path,
        {
          dir: env.dir,
          port: haproxyPort,
          serverPemPath: env.server.pemPath,
          caPath: env.caPath,
          issuerPublicKeyPath: env.issuerPemPath,
          issuer: env.issuer.issuer,
          audience: env.issuer.audience,
          appPort: app.first.plainPort,
          ...(pin.server !== undefined ? { cpu: pin.server } : {}),
        },
        (port) => waitForPort(port),
      );
      children.push(child);
      haproxyPid = child.pid ?? NaN;
    }

    // 3. Same job? Bound token accepted everywhere; stolen token refused by the checkers.
    const https = (port: number): string => `https://127.0.0.1:${port}/bench`;
    const checks: CheckResult[] = [
      ...(await checkHttp(env, [
        { name: V.direct, url: https(app.first.tlsPort), checks: false },
        { name: V.bare, url: https(bare.first.port), checks: false },
        { name: V.certbound, url: https(sidecar.inboundPort), checks: true },
        { name: V.certboundLog, url: https(sidecarLog.inboundPort), checks: true },
        ...(haproxyPort !== undefined
          ? [{ name: V.haproxy, url: https(haproxyPort), checks: true }]
          : []),
      ])),
      ...(await checkGrpc(env, [
        { name: V.grpcDirect, target: `127.0.0.1:${grpcApp.first.directPort}`, checks: false },
        {
          name: V.grpcPassThrough,
          target: `127.0.0.1:${grpcApp.first.passThroughPort}`,
          checks: false,
        },
        {
          name: V.grpcInterceptor,
          target: `127.0.0.1:${grpcApp.first.interceptorPort}`,
          checks: true,
        },
        { name: V.grpcBare, target: `127.0.0.1:${bareGrpc.first.port}`, checks: false },
        { name: V.grpcSidecar, target: `127.0.0.1:${sidecar.inboundPort}`, checks: true },
      ])),
    ];
    log('\nsame-job checks (bound token → status, token bound to another valid cert → status):');
    for (const c of checks) {
      log(
        `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(46)} valid → ${c.valid}, stolen → ${c.stolen}`,
      );
    }
    report['checks'] = checks;

    const rounds: RoundOptions = {
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      warmupMs: WARMUP_MS,
      runWarmupMs: RUN_WARMUP_MS,
      cpu: pin.load,
      onRun: (round, variant) => {
        if (variant === 0) process.stdout.write(round === 0 ? '  warm-up' : ` · round ${round}`);
      },
    };
    const scenarios: Scenario[] = [];
    const measure = async (
      title: string,
      baseline: string,
      variants: LoadVariant[],
    ): Promise<void> => {
      log(`\n${title}…`);
      const results = await runRounds(variants, rounds);
      process.stdout.write('\n');
      const s = { title, baseline, results };
      scenarios.push(s);
      log(scenarioText(s));
    };

    // 4. HTTP inbound, token reused: certbound vs bare proxy vs direct vs HAProxy.
    await measure(HTTP, V.bare, [
      httpVariant(env, V.direct, app.first.tlsPort, env.tokens.reused, [appPid]),
      httpVariant(env, V.bare, bare.first.port, env.tokens.reused, [bare.child.pid!, appPid]),
      httpVariant(env, V.certbound, sidecar.inboundPort, env.tokens.reused, [sidecar.pid, appPid]),
      ...(previous !== undefined
        ? [
            httpVariant(env, V.previous, previous.inboundPort, env.tokens.reused, [
              previous.pid,
              appPid,
            ]),
          ]
        : []),
      httpVariant(env, V.certboundLog, sidecarLog.inboundPort, env.tokens.reused, [
        sidecarLog.pid,
        appPid,
      ]),
      ...(haproxyPort !== undefined
        ? [httpVariant(env, V.haproxy, haproxyPort, env.tokens.reused, [haproxyPid, appPid])]
        : []),
    ]);

    // 5. Worst case: a token never seen before on every request (signature every time).
    const hits0 = await counterOf(sidecar.adminPort, 'certbound_verify_cache_hits_total');
    const miss0 = await counterOf(sidecar.adminPort, 'certbound_verify_cache_misses_total');
    await measure(FRESH, haproxyPort !== undefined ? V.haproxy : V.certbound, [
      httpVariant(env, V.certbound, sidecar.inboundPort, env.tokens.fresh, [sidecar.pid, appPid]),
      ...(haproxyPort !== undefined
        ? [httpVariant(env, V.haproxy, haproxyPort, env.tokens.fresh, [haproxyPid, appPid])]
        : []),
    ]);
    const hits = (await counterOf(sidecar.adminPort, 'certbound_verify_cache_hits_total')) - hits0;
    const misses =
      (await counterOf(sidecar.adminPort, 'certbound_verify_cache_misses_total')) - miss0;
    log(
      `  verified-token cache during this scenario: ${hits} hits, ${misses} misses (${FRESH_TOKENS} distinct tokens, cache 10 000)`,
    );
    report['freshTokenCache'] = { hits, misses, distinctTokens: FRESH_TOKENS };

    // 6. gRPC unary: interceptor vs none; through the sidecar vs direct.
    await measure(GRPC, V.grpcDirect, [
      grpcVariant(env, V.grpcDirect, grpcApp.first.directPort, [grpcPid]),
      grpcVariant(env, V.grpcPassThrough, grpcApp.first.passThroughPort, [grpcPid]),
      grpcVariant(env, V.grpcInterceptor, grpcApp.first.interceptorPort, [grpcPid]),
      grpcVariant(env, V.grpcBare, bareGrpc.first.port, [bareGrpc.child.pid!, grpcPid]),
      grpcVariant(env, V.grpcSidecar, sidecar.inboundPort, [sidecar.pid, grpcPid]),
      ...(previous !== undefined
        ? [grpcVariant(env, V.grpcPrevious, previous.inboundPort, [previous.pid, grpcPid])]
        : []),
    ]);

    // 6b. Forged-token flood (issue 19): the valid clients alone, then while a compromised
    // workload floods forged tokens; both generators share the load CPU.
    log(`\n${floodTitle(env, CONCURRENCY / 2, pin.load)}…`);
    const flood = await benchForgedFlood(env, sidecar, appPid, {
      ...rounds,
      connections: CONCURRENCY / 2,
      onRound: (round) => process.stdout.write(round === 0 ? '  warm-up' : ` · round ${round}`),
    });
    process.stdout.write('\n');
    log(floodText(flood));
    report['forgedFlood'] = flood;

    const end = memoryOf(sidecar.pid);
    log(`\nsidecar memory: idle ${mib(idle)}; after the load run ${mib(end)}`);

    // 7. Connection churn: one new mTLS connection per request (issue 12: RSS per connection).
    const churn = await benchConnectionChurn(env, sidecar);
    log(
      `sidecar RSS growth per 10 000 new mTLS connections: ${churn.growthMiBPer10k.toFixed(1)} MiB (${churn.rssBeforeMiB.toFixed(1)} → ${churn.rssAfterMiB.toFixed(1)} MiB over ${churn.connections}, ${churn.failed} failed)`,
    );
    report['connectionChurn'] = churn;
    report['sidecar'] = {
      readyMs: sidecar.readyMs,
      readyMsSecond: sidecarLog.readyMs,
      memoryIdle: idle,
      memoryAfterLoad: end,
      memoryEmptyNode: nodeFloor,
      startup,
    };

    const ratios: Ratio[] = [
      {
        name: 'certbound / bare proxy (token reused)',
        value: ratioBetween(scenarios, HTTP, V.certbound, V.bare),
        target: 0.9,
      },
      {
        name: 'certbound / direct mTLS (token reused)',
        value: ratioBetween(scenarios, HTTP, V.certbound, V.direct),
      },
      {
        name: 'certbound / HAProxy (token reused)',
        value: ratioBetween(scenarios, HTTP, V.certbound, V.haproxy),
      },
      {
        name: 'certbound / HAProxy (fresh token per request)',
        value: ratioBetween(scenarios, FRESH, V.certbound, V.haproxy),
        target: 0.8,
      },
      {
        name: 'certbound access log on / off',
        value: ratioBetween(scenarios, HTTP, V.certboundLog, V.certbound),
      },
      {
        name: 'gRPC interceptor / no interceptor',
        value: ratioBetween(scenarios, GRPC, V.grpcInterceptor, V.grpcDirect),
        target: 0.95,
      },
      {
        name: 'gRPC interceptor / pass-through interceptor',
        value: ratioBetween(scenarios, GRPC, V.grpcInterceptor, V.grpcPassThrough),
      },
      {
        name: 'pass-through interceptor / no interceptor (grpc-js interception alone)',
        value: ratioBetween(scenarios, GRPC, V.grpcPassThrough, V.grpcDirect),
      },
      {
        name: 'gRPC through sidecar / direct',
        value: ratioBetween(scenarios, GRPC, V.grpcSidecar, V.grpcDirect),
        target: 0.75,
      },
      {
        name: 'gRPC through sidecar / bare Node HTTP/2 relay',
        value: ratioBetween(scenarios, GRPC, V.grpcSidecar, V.grpcBare),
      },
      {
        name: 'bare Node HTTP/2 relay / direct (the floor of any Node relay)',
        value: ratioBetween(scenarios, GRPC, V.grpcBare, V.grpcDirect),
      },
      ...floodRatios(flood),
    ];
    const cpuRatios: Ratio[] = [
      {
        name: 'certbound / bare proxy (token reused)',
        value: cpuRatioBetween(scenarios, HTTP, V.certbound, V.bare),
      },
      {
        name: 'certbound / HAProxy (token reused)',
        value: cpuRatioBetween(scenarios, HTTP, V.certbound, V.haproxy),
      },
      {
        name: 'certbound / HAProxy (fresh token per request)',
        value: cpuRatioBetween(scenarios, FRESH, V.certbound, V.haproxy),
      },
      {
        name: 'gRPC interceptor / no interceptor',
        value: cpuRatioBetween(scenarios, GRPC, V.grpcInterceptor, V.grpcDirect),
      },
      {
        name: 'gRPC interceptor / pass-through interceptor',
        value: cpuRatioBetween(scenarios, GRPC, V.grpcInterceptor, V.grpcPassThrough),
      },
      {
        name: 'gRPC through sidecar / direct',
        value: cpuRatioBetween(scenarios, GRPC, V.grpcSidecar, V.grpcDirect),
      },
      {
        name: 'gRPC through sidecar / bare Node HTTP/2 relay',
        value: cpuRatioBetween(scenarios, GRPC, V.grpcSidecar, V.grpcBare),
      },
    ];
    log(`\nheadline ratios (requests/s, reported, not asserted):\n${ratiosText(ratios)}`);
    log(`server CPU per request (proxy + app; lower is cheaper):\n${ratiosText(cpuRatios)}`);
    const limits = targetLimits(
      {
        http: HTTP,
        fresh: FRESH,
        grpc: GRPC,
        bare: V.bare,
        certbound: V.certbound,
        haproxy: V.haproxy,
        grpcDirect: V.grpcDirect,
        grpcPassThrough: V.grpcPassThrough,
        grpcInterceptor: V.grpcInterceptor,
        grpcBare: V.grpcBare,
        grpcSidecar: V.grpcSidecar,
      },
      {
        scenarios,
        verify: verify.results,
        dpop: dpop.results,
        memory: {
          ...(idle !== undefined ? { idle: idle.rssMiB } : {}),
          ...(end !== undefined ? { afterLoad: end.rssMiB } : {}),
          ...(nodeFloor !== undefined ? { emptyNode: nodeFloor.rssMiB } : {}),
        },
        ...(startup[0] !== undefined ? { readyMs: startup[0].medianMs } : {}),
        freshCache: { hits, misses },
      },
    );
    log(
      `issue 19 targets, and what limits those not met (this run's floors; profiles in bench/README.md):\n${targetLimitsText(limits)}`,
    );
    report['targetLimits'] = limits;
    report['cpuRatios'] = cpuRatios;
    report['scenarios'] = scenarios;
    report['ratios'] = ratios;
    report['loadAverageAtEnd'] = loadavg();
    log(
      `load average at end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );

    const md = [
      `Measured by \`make bench\` on ${started.toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average at start ${load.join(' ')}; ${pin.note}; ${ROUNDS} alternating rounds × ${ROUND_MS / 1000} s per variant, ${CONCURRENCY} concurrent keep-alive connections.`,
      '',
      scenariosMarkdown(scenarios),
      '',
      ratiosMarkdown(ratios, cpuRatios),
      '',
      floodMarkdown(flood),
      '',
      '| issue 19 target | met | what limits it (this run) |',
      '|---|---|---|',
      ...limits.map((l) => `| ${l.target} | ${l.met ? 'yes' : 'no'} | ${l.met ? '' : l.limit} |`),
      '',
      `Sidecar: start → \`/readyz\` 200 (median of ${startup[0]?.readyMs.length ?? 0}) ${startup.map((st) => `${st.medianMs.toFixed(0)} ms for the ${st.name}`).join(', ')}; resident memory idle ${mib(idle)}, after the load run ${mib(end)}; an empty \`node\` process: ${mib(nodeFloor)}.`,
      `Connection churn (a new mTLS connection per request): sidecar RSS grows ${churn.growthMiBPer10k.toFixed(1)} MiB per 10 000 connections.`,
      '',
      verifyMarkdown(verify.results, 'jose jwtVerify alone (ES256)'),
      '',
    ].join('\n');
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(
      new URL('./results/latest.json', import.meta.url),
      JSON.stringify(report, null, 2),
    );
    await writeFile(new URL('./results/latest.md', import.meta.url), md);
    log('\nwritten to bench/results/latest.json and bench/results/latest.md');
  } finally {
    await Promise.all([...sidecars.map((s) => s.stop()), ...children.map((c) => stop(c))]);
    await env.cleanup();
  }
}

await main();
