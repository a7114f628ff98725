#!/usr/bin/env node
// `make demo` / `make demo-up`: the embedded stack and the narrated scenario.
import './quiet-dev-warnings.js';
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDemoCerts } from './demo-certs.js';
import { startDemoStack, type DemoStack } from './demo-stack.js';
import { Narrator } from './narrator.js';
import { runScenario } from './scenario.js';
import { Teardown } from './teardown.js';
import { printEndpoints } from './up.js';

const USAGE = `usage: node dist/devstack/demo/main.js [--up] [--certs <dir>] [--port-base <n>]

  (default)        start the stack, run the narrated scenario, stop everything; exit 0 if every step passed
  --up             start the stack and keep it running until Ctrl-C (make demo-up)
  --certs <dir>    dev CA directory written by "make certs" (default: certs, or $CERTS_DIR)
  --port-base <n>  fixed ports n … n+9 instead of free ones (or $CERTBOUND_DEMO_PORT_BASE)`;

function portBaseOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1024 || n > 65_527) {
    throw new Error(`port base ${value} must be an integer between 1024 and 65527`);
  }
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      up: { type: 'boolean', default: false },
      certs: { type: 'string' },
      'port-base': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const say = new Narrator();
  const teardown = new Teardown();
  const interrupted = new AbortController();
  let exitCode: number | undefined;
  let dir: string | undefined;

  const shutdown = async (code: number, keepLogs = false): Promise<void> => {
    await teardown.run();
    if (dir !== undefined && keepLogs) say.line(`demo: sidecar logs and configs kept in ${dir}`);
    else if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    say.line('demo: every process it started has stopped.');
    exitCode ??= code;
  };
  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted.signal.aborted) return;
      say.line(`\ndemo: ${signal} received, stopping …`);
      interrupted.abort();
      stopRequested(signal);
    });
  }
  const codeOf = (signal: NodeJS.Signals): number => (signal === 'SIGINT' ? 130 : 143);

  try {
    const portBase = portBaseOf(values['port-base'] ?? process.env['CERTBOUND_DEMO_PORT_BASE']);
    const certs = await ensureDemoCerts(values.certs ?? process.env['CERTS_DIR'] ?? 'certs');
    dir = await mkdtemp(join(tmpdir(), 'certbound-demo-'));
    const started = Date.now();
    say.line(
      `certbound demo — stack on 127.0.0.1, certificates from ${certs.dir}, configs in ${dir}`,
    );
    const starting = startDemoStack({
      certs,
      dir,
      teardown,
      ...(portBase !== undefined ? { portBase } : {}),
      progress: (line) => say.line(`  started ${line}`),
    });
    const first = await Promise.race([
      starting.then((stack) => ({ stack })),
      stopSignal.then((signal) => ({ signal })),
    ]);
    if ('signal' in first) {
      // The teardown holds whatever has started so far; a start still in flight registers late.
      await starting.catch(() => undefined);
      await shutdown(codeOf(first.signal));
      return exitCode ?? 1;
    }
    const stack: DemoStack = first.stack;
    say.line(`  stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    if (values.up) {
      printEndpoints(stack, say);
      say.line('\ndemo-up: stack is up — press Ctrl-C to stop it.');
      // Ctrl-C is how demo-up is meant to end: a clean stop exits 0.
      await stopSignal;
      await shutdown(0);
      return 0;
    }

    const result = await Promise.race([
      runScenario(stack, say, { signal: interrupted.signal }),
      stopSignal.then((signal) => ({ signal })),
    ]);
    if ('signal' in result) {
      await shutdown(codeOf(result.signal));
      return exitCode ?? 1;
    }
    say.line(
      `\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.ok ? 'every step passed' : `failed steps: ${result.stepsFailed.join(', ')}`}`,
    );
    await shutdown(result.ok ? 0 : 1, !result.ok);
    return exitCode ?? 1;
  } catch (err) {
    if (interrupted.signal.aborted) {
      await shutdown(130);
      return exitCode ?? 130;
    }
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1, true);
    return 1;
  }
}

// Exit once stdout has been flushed (pipes are asynchronous on some platforms).
const exit = (code: number): void => void process.stdout.write('', () => process.exit(code));

main().then(
  (code) => exit(code),
  (err: unknown) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    exit(1);
  },
);
