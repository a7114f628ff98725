import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { relative } from 'node:path';
import { credentials, status as grpcStatus } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { errorCodeOfDetails } from '../../src/grpc/grpc-status.js';
import {
  ORDERS_RESOURCE,
  ORDERS_SCOPE,
  PAYMENTS_RESOURCE,
  PAYMENTS_SCOPE,
} from './demo-configs.js';
import {
  createLocalHttp,
  echoClient,
  echoUnary,
  fileChannelCredentials,
  mtlsGet,
  tokenApiClient,
  type EchoClient,
  type HttpResult,
} from './demo-clients.js';
import type { DemoStack } from './demo-stack.js';
import type { Narrator } from './narrator.js';
import type { PaymentsSeen } from './payments-app.js';
import { CLI_PATH } from './sidecar-child.js';

/** Counts shown in the summary. */
export interface ScenarioResult {
  /** True when every step passed. */
  readonly ok: boolean;
  readonly stepsFailed: readonly string[];
  /** Legitimate calls made (HTTP through the outbound proxy + gRPC Echo). */
  readonly calls: number;
  /** Legitimate calls that did not succeed. */
  readonly failures: number;
  readonly replaysTried: number;
  readonly replaysRefused: number;
  /** Token requests answered by the AS. */
  readonly tokensFetched: number;
  /** Certificate rotations applied by the orders sidecar (its metric). */
  readonly rotations: number;
}

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  /** Calls after payments has seen the new certificate before the stream stops. Default 30. */
  readonly callsAfterRotation?: number;
  /** Cancels the scenario (Ctrl-C). */
  readonly signal?: AbortSignal;
}

class CheckFailed extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

function claimThumbprint(token: string): string | undefined {
  const cnf = decodeJwt(token)['cnf'];
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const value = (cnf as Record<string, unknown>)['x5t#S256'];
  return typeof value === 'string' ? value : undefined;
}

async function fileThumbprint(path: string): Promise<string> {
  return thumbprintOf(await readFile(path, 'utf8'));
}

function callerOf(result: HttpResult): PaymentsSeen | undefined {
  try {
    return (JSON.parse(result.body) as { caller?: PaymentsSeen }).caller;
  } catch {
    return undefined;
  }
}

function errorCodeOfBody(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

function metricValue(admin: string, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${admin}/metrics`, { timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.once('end', () => resolve(Number(pattern.exec(text)?.[1] ?? 0)));
    });
    req.once('timeout', () => req.destroy(new Error('metrics timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** Runs `certbound certs rotate --dir <dir> --name <name>` (what `make rotate NAME=…` runs). */
function rotateWithCli(dir: string, name: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'certs', 'rotate', '--dir', dir, '--name', name],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: out.trim() });
    });
  });
}

/** One line of an error text; OpenSSL's `…:reason:file:line:SSL alert number N` kept to its reason and alert. */
function brief(text: string): string {
  const line = text.split('\n')[0] ?? '';
  const ssl = /:([a-z0-9 ]+):[^:]*:\d+:(SSL alert number \d+)/.exec(line);
  if (ssl === null) return line.length > 200 ? `${line.slice(0, 200)}…` : line;
  return `${ssl[1]} (${ssl[2]})`;
}

/** `label ……… value`, aligned so that thumbprints line up under each other. */
function pair(label: string, value: string): string {
  return `${label.padEnd(56)} ${value}`;
}

function short(thumbprint: string | undefined): string {
  return thumbprint ?? '(none)';
}

/**
 * The narrated scenario against a running {@link DemoStack}: a bound call through the
 * outbound proxy (HTTP) and the gRPC path, token replays from another certificate and
 * without one, and a live certificate rotation under load. Prints one line per step and
 * never throws for a failed check (the result says which steps failed).
 */
export async function runScenario(
  stack: DemoStack,
  say: Narrator,
  options: ScenarioOptions = {},
): Promise<ScenarioResult> {
  const certs = stack.certs;
  const rel = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r.startsWith('..') ? p : r;
  };
  const failedSteps: string[] = [];
  let calls = 0;
  let failures = 0;
  let replaysTried = 0;
  let replaysRefused = 0;

  const ordersTokens = tokenApiClient(stack.orders.tokenApi);
  const paymentsTokens = tokenApiClient(stack.payments.tokenApi);
  const http = createLocalHttp();
  const grpcClients: EchoClient[] = [];
  const grpcAs = (who: 'payments' | 'attacker' | undefined): EchoClient => {
    const w = who === undefined ? undefined : certs.workloads[who];
    const client = echoClient(
      stack.orders.inbound,
      fileChannelCredentials(certs.bundle, w?.cert, w?.key),
    );
    grpcClients.push(client);
    return client;
  };
  const outboundUrl = (path: string): string => `http://${stack.orders.outbound}/payments${path}`;

  const step = async (
    id: string,
    run: (detail: (line: string) => void) => Promise<string>,
  ): Promise<void> => {
    const details: string[] = [];
    const aborted = (): boolean => options.signal?.aborted === true;
    if (aborted()) throw new Error('interrupted');
    try {
      const text = await run((line) => details.push(line));
      say.step(id, true, text);
    } catch (err) {
      if (aborted()) throw new Error('interrupted', { cause: err });
      failedSteps.push(id);
      const reason = err instanceof Error ? err.message : String(err);
      say.step(id, false, `step ${id} failed: ${reason}`);
    }
    for (const line of details) say.detail(line);
  };

  let ordersToken = '';
  let paymentsToken = '';
  const ordersThumb = await fileThumbprint(certs.workloads.orders.cert);

  try {
    say.heading('1. a bound call');
    await step('1', async (detail) => {
      const issued = await ordersTokens.getToken({
        resource: PAYMENTS_RESOURCE,
        scope: PAYMENTS_SCOPE,
      });
      ordersToken = issued.access_token;
      const cnf = claimThumbprint(ordersToken);
      const url = outboundUrl('/pay?order=1001');
      calls++;
      const res = await http.get(url);
      if (res.status !== 200) failures++;
      const caller = callerOf(res);
      detail(
        `GET ${url} → ${res.status} (orders' sidecar added a bound token and its certificate)`,
      );
      detail(
        `payments app saw x-certbound-client-id=${caller?.clientId}, x-certbound-spiffe-id=${caller?.spiffeId}, x-certbound-scope=${caller?.scope}`,
      );
      detail(pair(`SHA-256 of ${rel(certs.workloads.orders.cert)}`, ordersThumb));
      detail(pair('payments app saw x-certbound-cert-thumbprint', short(caller?.thumbprint)));
      detail(pair("token (orders' local token API) cnf.x5t#S256", short(cnf)));
      check(
        res.status === 200,
        `expected 200 through the outbound proxy, got ${res.status} ${res.body.slice(0, 200)}`,
      );
      check(caller?.clientId === 'orders', 'payments did not see client-id orders');
      check(caller.spiffeId === certs.workloads.orders.spiffeId, 'payments saw another SPIFFE ID');
      check(caller.thumbprint === ordersThumb, 'payments saw another certificate thumbprint');
      check(
        cnf === ordersThumb && issued.cnf_thumbprint === ordersThumb,
        "the token's cnf.x5t#S256 is not orders' certificate",
      );
      check(!caller.sawAuthorization, 'the Authorization header reached the app');
      return 'orders → payments through the outbound proxy: 200; token cnf.x5t#S256 = orders certificate thumbprint = what payments saw';
    });

    await step('1b', async (detail) => {
      // Captured for step 2b: the token payments' sidecar holds for orders.
      const issued = await paymentsTokens.getToken({
        resource: ORDERS_RESOURCE,
        scope: ORDERS_SCOPE,
      });
      paymentsToken = issued.access_token;
      calls++;
      const before = stack.orders.app.calls();
      // The payments app speaks plaintext gRPC to its own sidecar and sends no token.
      const viaSidecar = echoClient(
        stack.payments.outboundGrpc,
        credentials.createInsecure(),
        'orders',
      );
      grpcClients.push(viaSidecar);
      const outcome = await echoUnary(viaSidecar, 'hello orders', '');
      if (!outcome.ok) failures++;
      detail(
        `demo.v1.Echo/Unary (authority "orders", no token) to payments' outbound gRPC listener ${stack.payments.outboundGrpc} → orders' sidecar https://${stack.orders.inbound} → ${outcome.ok ? 'OK' : `${outcome.err.code} ${outcome.err.details}`}`,
      );
      check(outcome.ok, 'the gRPC call failed');
      detail(
        `orders app saw client_id=${outcome.res.client_id}, spiffe_id=${outcome.res.spiffe_id}`,
      );
      check(outcome.res.client_id === 'payments', 'orders did not see client_id payments');
      check(stack.orders.app.calls() === before + 1, 'the orders app did not get the call');
      return 'payments → orders over gRPC through both sidecars: OK (status 0), orders saw client_id=payments';
    });

    say.heading('2. a stolen token replayed from another certificate');
    await step('2', async (detail) => {
      check(ordersToken !== '', 'no token captured in step 1');
      const attackerThumb = await fileThumbprint(certs.workloads.attacker.cert);
      const before = stack.payments.app.requests();
      replaysTried++;
      const res = await mtlsGet({
        address: stack.payments.inbound,
        path: '/pay?order=666',
        caPath: certs.bundle,
        certPath: certs.workloads.attacker.cert,
        keyPath: certs.workloads.attacker.key,
        headers: { authorization: `Bearer ${ordersToken}` },
      });
      const code = errorCodeOfBody(res.body);
      if (res.status === 401 && code === 'ERR_BINDING_MISMATCH') replaysRefused++;
      detail(
        pair(`attacker: SHA-256 of ${rel(certs.workloads.attacker.cert)} (same CA)`, attackerThumb),
      );
      detail(pair('replayed token cnf.x5t#S256', short(claimThumbprint(ordersToken))));
      detail(`GET https://${stack.payments.inbound}/pay → ${res.status} ${code ?? ''}`);
      detail(`WWW-Authenticate: ${String(res.headers['www-authenticate'])}`);
      check(res.status === 401, `expected 401, got ${res.status}`);
      check(code === 'ERR_BINDING_MISMATCH', `expected ERR_BINDING_MISMATCH, got ${code}`);
      check(stack.payments.app.requests() === before, 'the request reached the payments app');
      return "attacker replays orders' token to payments with its own valid certificate: 401 ERR_BINDING_MISMATCH, the app saw nothing";
    });

    await step('2b', async (detail) => {
      check(paymentsToken !== '', 'no token captured in step 1b');
      const before = stack.orders.app.calls();
      replaysTried++;
      const outcome = await echoUnary(grpcAs('attacker'), 'let me in', paymentsToken);
      const code = outcome.ok ? undefined : errorCodeOfDetails(outcome.err.details);
      if (
        !outcome.ok &&
        outcome.err.code === grpcStatus.UNAUTHENTICATED &&
        code === 'ERR_BINDING_MISMATCH'
      )
        replaysRefused++;
      detail(
        `demo.v1.Echo/Unary with certs/attacker + payments' token → ${outcome.ok ? 'OK' : `status ${outcome.err.code} ${grpcStatus[outcome.err.code]}: ${outcome.err.details}`}`,
      );
      check(!outcome.ok, 'the replayed gRPC call succeeded');
      check(
        outcome.err.code === grpcStatus.UNAUTHENTICATED,
        `expected status 16 UNAUTHENTICATED, got ${outcome.err.code}`,
      );
      check(code === 'ERR_BINDING_MISMATCH', `expected ERR_BINDING_MISMATCH, got ${code}`);
      check(stack.orders.app.calls() === before, 'the call reached the orders app');
      return "attacker replays payments' token to orders over gRPC: status 16 UNAUTHENTICATED ERR_BINDING_MISMATCH";
    });

    say.heading('3. the token without a client certificate');
    await step('3', async (detail) => {
      const before = stack.payments.app.requests();
      replaysTried++;
      let refusal: string | undefined;
      let status = 0;
      try {
        const res = await mtlsGet({
          address: stack.payments.inbound,
          path: '/pay?order=667',
          caPath: certs.bundle,
          headers: { authorization: `Bearer ${ordersToken}` },
        });
        status = res.status;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        refusal = `${e.code ?? 'error'} — ${brief(e.message)}`;
      }
      if (refusal !== undefined) replaysRefused++;
      detail(
        `GET https://${stack.payments.inbound}/pay without --cert → ${refusal ?? `HTTP ${status}`}`,
      );
      check(refusal !== undefined, `expected the TLS handshake to be refused, got HTTP ${status}`);
      check(stack.payments.app.requests() === before, 'the request reached the payments app');
      return `token sent without a client certificate: TLS handshake refused (${refusal.split(' ')[0]})`;
    });

    await step('3b', async (detail) => {
      const before = stack.orders.app.calls();
      replaysTried++;
      const outcome = await echoUnary(grpcAs(undefined), 'no cert', paymentsToken);
      if (!outcome.ok && outcome.err.code !== grpcStatus.OK) replaysRefused++;
      detail(
        `demo.v1.Echo/Unary without a client certificate → ${outcome.ok ? 'OK' : `status ${outcome.err.code} ${grpcStatus[outcome.err.code]}: ${brief(outcome.err.details)}`}`,
      );
      check(!outcome.ok, 'the call without a client certificate succeeded');
      check(stack.orders.app.calls() === before, 'the call reached the orders app');
      return `gRPC call without a client certificate: refused at the TLS handshake (status ${outcome.err.code})`;
    });

    say.heading('4. certificate rotation under load');
    await step('4', async (detail) => {
      const oldThumb = ordersThumb;
      const target = options.callsAfterRotation ?? 30;
      const deadline = Date.now() + 90_000;
      let streamCalls = 0;
      let streamFailures = 0;
      let afterNew = 0;
      let rotated = false;
      let lastSeen: string | undefined;
      const failuresSeen: string[] = [];
      let startRotation: () => void = () => undefined;
      const rotationMayStart = new Promise<void>((resolve) => (startRotation = resolve));
      const done = (): boolean =>
        (rotated && afterNew >= target) ||
        Date.now() > deadline ||
        options.signal?.aborted === true;
      const httpWorker = async (w: number): Promise<void> => {
        for (let i = 0; !done(); i++) {
          streamCalls++;
          if (streamCalls >= 20) startRotation();
          try {
            const res = await http.get(outboundUrl(`/pay?w=${w}&i=${i}`));
            const caller = callerOf(res);
            if (res.status !== 200 || caller === undefined) {
              streamFailures++;
              failuresSeen.push(`HTTP ${res.status} ${res.body.slice(0, 120)}`);
              continue;
            }
            lastSeen = caller.thumbprint;
            if (rotated && caller.thumbprint !== oldThumb) afterNew++;
          } catch (err) {
            streamFailures++;
            failuresSeen.push(String(err));
          }
        }
      };
      const grpcWorker = async (): Promise<void> => {
        const client = grpcAs('payments');
        for (let i = 0; !done(); i++) {
          streamCalls++;
          try {
            const { access_token } = await paymentsTokens.getToken({
              resource: ORDERS_RESOURCE,
              scope: ORDERS_SCOPE,
            });
            const outcome = await echoUnary(client, `stream ${i}`, access_token);
            if (!outcome.ok) {
              streamFailures++;
              failuresSeen.push(`gRPC ${outcome.err.code} ${outcome.err.details}`);
            }
          } catch (err) {
            streamFailures++;
            failuresSeen.push(String(err));
          }
        }
      };
      const rotation = (async () => {
        await rotationMayStart;
        const result = await rotateWithCli(certs.dir, 'orders');
        rotated = true;
        return result;
      })();
      const workers = [httpWorker(1), httpWorker(2), httpWorker(3), grpcWorker()];
      // A failed rotation must not leave the stream running until the deadline.
      const rotateResult = await rotation.catch((err: unknown) => ({ code: -1, out: String(err) }));
      if (rotateResult.code !== 0) rotated = true;
      await Promise.all(workers);
      calls += streamCalls;
      failures += streamFailures;
      const newThumb = await fileThumbprint(certs.workloads.orders.cert);
      const fresh = await ordersTokens.getToken({
        resource: PAYMENTS_RESOURCE,
        scope: PAYMENTS_SCOPE,
      });
      const freshCnf = claimThumbprint(fresh.access_token);
      detail(
        `$ make rotate NAME=orders   (certbound certs rotate --dir ${rel(certs.dir)} --name orders, exit ${rotateResult.code})`,
      );
      if (rotateResult.out !== '') detail(`  ${rotateResult.out.split('\n')[0]}`);
      detail(
        `${streamCalls} calls during the rotation (3 HTTP streams via the outbound proxy + 1 gRPC stream to orders), ${streamFailures} failed`,
      );
      for (const f of failuresSeen.slice(0, 3)) detail(`failure: ${f}`);
      detail(pair('old orders certificate SHA-256', oldThumb));
      detail(pair(`new SHA-256 of ${rel(certs.workloads.orders.cert)}`, newThumb));
      detail(pair('payments app now sees x-certbound-cert-thumbprint', short(lastSeen)));
      detail(pair("new token (orders' local token API) cnf.x5t#S256", short(freshCnf)));
      check(rotateResult.code === 0, `the rotate command failed: ${rotateResult.out}`);
      check(newThumb !== oldThumb, 'the certificate file did not change');
      check(afterNew >= target, `payments saw the new certificate on only ${afterNew} calls`);
      check(lastSeen === newThumb, 'payments does not see the new certificate');
      check(freshCnf === newThumb, 'the new token is not bound to the new certificate');
      check(streamFailures === 0, `${streamFailures} calls failed during the rotation`);
      return `make rotate NAME=orders during ${streamCalls} calls: 0 failures; new token cnf.x5t#S256 = new certificate = what payments sees`;
    });
  } finally {
    ordersTokens.close();
    paymentsTokens.close();
    http.close();
    for (const client of grpcClients) client.close();
  }

  const rotations = await metricValue(
    stack.orders.admin,
    /certbound_identity_rotations_total\{result="ok"\} (\d+)/,
  ).catch(() => 0);
  const tokensFetched = stack.tokensFetched();
  const ok5 = failedSteps.length === 0 && failures === 0 && replaysRefused === replaysTried;
  say.heading('5. summary');
  say.table('certbound demo', [
    ['calls made', String(calls)],
    ['failures', String(failures)],
    ['replays refused', `${replaysRefused}/${replaysTried}`],
    ['tokens fetched (AS token requests)', String(tokensFetched)],
    ['rotations (orders sidecar)', String(rotations)],
  ]);
  if (!ok5) failedSteps.push('5');
  say.step(
    '5',
    ok5,
    ok5
      ? `summary: ${calls} calls, 0 failures, ${replaysRefused}/${replaysTried} replays refused, ${tokensFetched} tokens fetched, ${rotations} rotation(s)`
      : `summary: ${failures} failures, steps failed: ${failedSteps.join(', ')}`,
  );
  return {
    ok: failedSteps.length === 0,
    stepsFailed: failedSteps,
    calls,
    failures,
    replaysTried,
    replaysRefused,
    tokensFetched,
    rotations,
  };
}
