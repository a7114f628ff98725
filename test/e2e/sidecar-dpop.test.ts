import * as oauth from 'oauth4webapi';
import { fetch as undiciFetch, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpopTokenOf, startTestAs, type AsFixture } from '../support/as.js';
import { dpopClient, type DpopClient } from '../support/dpop-client.js';
import { mtlsAgent, send, tempDir } from '../support/http-fixtures.js';
import WebSocket, { WebSocketServer } from 'ws';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

const PUBLIC = 'https://api.bank.test';

/**
 * The built CLI verifying DPoP-bound tokens from a real oidc-provider (features.dPoP), proofs
 * made by oauth4webapi, three replicas sharing one real redis-server (replay) and one nonce
 * key file; the third fails open. The "ingress" connects over mTLS with its own certificate.
 */
describe('certbound run with verify.dpop: DPoP tokens from oidc-provider, replicas sharing Redis', () => {
  let fx: AsFixture;
  let redis: RedisServer;
  let files: Awaited<ReturnType<typeof tempDir>>;
  let a: SidecarProcess;
  let b: SidecarProcess;
  let open: SidecarProcess;
  let ingress: Agent;
  let spa: DpopClient;
  let token: string;
  let app: { url: string; seen: string[]; close(): Promise<void> };

  /** The app: records plain requests; WebSocket upgrades are greeted with the verified jkt. */
  async function startApp(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
    const { createServer } = await import('node:http');
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('plain');
    });
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) =>
        ws.send(`hello ${String(req.headers['x-certbound-dpop-jkt'])}`),
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return {
      url: `http://127.0.0.1:${port}`,
      seen,
      close: () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }

  const baseOf = (s: SidecarProcess): string =>
    `https://127.0.0.1:${s.addresses.inbound!.split(':').at(-1)}`;

  beforeAll(async () => {
    [fx, redis, app, files] = await Promise.all([
      startTestAs({ dpop: true }, ['orders', 'payments', 'attacker']),
      startRedisServer(),
      startApp(),
      tempDir(),
    ]);
    const w = fx.pki.workloads['payments']!;
    const bundle = await files.write('bundle.pem', fx.pki.ca.certPem);
    const nonceKey = await files.write('nonce.key', 'k'.repeat(48));
    const configOf = (name: string, failOpen: boolean) =>
      files.write(
        `${name}.yaml`,
        `identity: { certPath: ${w.paths.cert}, keyPath: ${w.paths.key}, bundlePath: ${w.paths.ca} }
shutdownGrace: 1s
inbound:
  host: 127.0.0.1
  port: 0
  publicOrigin: ${PUBLIC}
  app: { url: "${app.url}" }
  policies:
    - { prefix: /dpop, proof: dpop }
    - { prefix: /, proof: any }
verify:
  issuer: "${fx.as.issuer}"
  audience: "https://payments.demo.local"
  jwksUri: "${fx.as.jwksUri}"
  jwksCaFile: ${bundle}
  dpop:
    nonce: { keyFile: ${nonceKey} }
    replayStore: { redis: { url: "${redis.url}", timeout: 300ms, failOpen: ${failOpen} } }
admin: { host: 127.0.0.1, port: 0 }
`,
      );
    [a, b, open] = await Promise.all([
      configOf('a', false).then((c) => startSidecarProcess(c)),
      configOf('b', false).then((c) => startSidecarProcess(c)),
      configOf('open', true).then((c) => startSidecarProcess(c)),
    ]);
    ingress = mtlsAgent(fx.pki.workloads['orders'], fx.pki.ca.certPem);
    spa = await dpopClient('ES256');
    token = await dpopTokenOf(fx.as, 'unbound', fx.pki.workloads['orders']!, spa.handle);
  }, 320_000);

  afterAll(async () => {
    await ingress?.close();
    await Promise.all([a?.stop(), b?.stop(), open?.stop()]);
    await redis?.stop();
    await app?.close();
    await fx?.close();
    await files?.cleanup();
  });

  /** The first log line of `sidecar` matching `match`, awaiting its output (bounded). */
  async function lineOf(sidecar: SidecarProcess, match: (l: string) => boolean): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const found = sidecar.lines.find(match);
      if (found !== undefined) return found;
      await new Promise((r) => sidecar.child.stdout?.once('data', r));
    }
    throw new Error('no such log line');
  }

  /** One oauth4webapi DPoP request to `sidecar` for `PUBLIC + path` (the URL the client signs). */
  async function call(client: DpopClient, sidecar: SidecarProcess, path: string, tok = token) {
    let proof = '';
    let result: { status: number; headers: Headers; body: string } | undefined;
    const { error } = await client.request(tok, 'GET', `${PUBLIC}${path}`, async (p, auth) => {
      proof = p;
      const res = await undiciFetch(`${baseOf(sidecar)}${path}`, {
        dispatcher: ingress,
        headers: { authorization: auth, dpop: p },
      });
      const body = await res.text();
      result = { status: res.status, headers: res.headers as unknown as Headers, body };
      return new Response(body, { status: res.status, headers: res.headers as unknown as Headers });
    });
    return { proof, error, ...result! };
  }

  /** A call, retried once on use_dpop_nonce (what oauth4webapi's users do). */
  async function callWithNonce(
    client: DpopClient,
    sidecar: SidecarProcess,
    path: string,
    tok = token,
  ) {
    const first = await call(client, sidecar, path, tok);
    return oauth.isDPoPNonceError(first.error) ? call(client, sidecar, path, tok) : first;
  }

  it('a DPoP-bound token from oidc-provider: nonce challenge, retry, 200, a fresh DPoP-Nonce; proof=dpop in the access log', async () => {
    const first = await call(spa, a, '/dpop/accounts');
    expect(first.status).toBe(401);
    expect(first.headers.get('www-authenticate')).toContain('error="use_dpop_nonce"');
    expect(first.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(oauth.isDPoPNonceError(first.error)).toBe(true);
    const seen = app.seen.length;
    const retry = await call(spa, a, '/dpop/accounts');
    expect(retry.status, retry.body).toBe(200);
    expect(app.seen.length).toBe(seen + 1);
    expect(retry.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]+$/);
    const line = await lineOf(
      a,
      (l) => l.includes('"path":"/dpop/accounts"') && l.includes('"status":200'),
    );
    expect(line).toContain('"proof":"dpop"');
    expect(line).not.toContain(token);
  });

  it('replicas share the nonce key: replica B accepts the nonce replica A issued', async () => {
    expect((await callWithNonce(spa, b, '/dpop/b')).status).toBe(200);
  });

  it('a proof used at replica A is refused at replica B (shared Redis replay store)', async () => {
    const used = await callWithNonce(spa, a, '/dpop/once');
    expect(used.status).toBe(200);
    const replay = await send(ingress, `${baseOf(b)}/dpop/once`, {
      headers: { authorization: `DPoP ${token}`, dpop: used.proof },
    });
    expect(replay.status).toBe(401);
    expect(replay.json?.['error']).toBe('ERR_DPOP_REPLAY');
    expect(String(replay.headers['www-authenticate'])).toMatch(
      /^DPoP algs="[^"]+", error="invalid_dpop_proof"/,
    );
  });

  it('downgrade (RFC 9449 §7.2): the DPoP-bound token sent as Bearer is refused', async () => {
    const res = await send(ingress, `${baseOf(a)}/any/x`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    expect(res.json?.['error']).toBe('ERR_DPOP_DOWNGRADE');
  });

  it('a stolen DPoP token with the thief’s own key and valid proofs is refused', async () => {
    const thief = await dpopClient('ES256');
    const res = await callWithNonce(thief, a, '/dpop/steal');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)['error']).toBe('ERR_DPOP_KEY_MISMATCH');
  });

  it('a WebSocket upgrade with DPoP is verified like any request: joined with the jkt; its proof replayed is refused', async () => {
    // Learn a nonce first, then a proof for the upgrade GET (htu https://, not wss://).
    await callWithNonce(spa, a, '/dpop/warm');
    const proof = (await spa.request(token, 'GET', `${PUBLIC}/dpop/ws`)).proof;
    const open = (p: string) =>
      new WebSocket(`wss://localhost:${baseOf(a).split(':').at(-1)}/dpop/ws`, {
        ca: fx.pki.ca.certPem,
        cert: fx.pki.workloads['orders']!.certPem,
        key: fx.pki.workloads['orders']!.keyPem,
        headers: { authorization: `DPoP ${token}`, dpop: p },
      });
    const joined = open(proof);
    const hello = await new Promise<string>((resolve, reject) => {
      joined.once('message', (m) => resolve((m as Buffer).toString()));
      joined.once('error', reject);
    });
    joined.close();
    expect(hello).toBe(`hello ${await spa.handle.calculateThumbprint()}`);
    const replayed = open(proof);
    const status = await new Promise<number>((resolve) => {
      replayed.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      replayed.once('open', () => resolve(101));
      replayed.once('error', () => resolve(-1));
    });
    replayed.terminate();
    expect(status).toBe(401);
  });

  it('metrics count DPoP proofs by result, replay hits and nonce challenges', async () => {
    const text = await (await fetch(`http://${a.addresses.admin}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    expect(value(/^certbound_dpop_proofs_total\{result="ok"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^certbound_dpop_nonce_challenges_total (\d+)/m)).toBeGreaterThan(0);
    const bText = await (await fetch(`http://${b.addresses.admin}/metrics`)).text();
    expect(
      Number(/^certbound_dpop_replay_hits_total (\d+)/m.exec(bText)?.[1] ?? 0),
    ).toBeGreaterThan(0);
  });

  it('Redis stopped: replicas answer 503 ERR_DPOP_REPLAY_STORE_UNAVAILABLE and /readyz says dpopReplayStore; failOpen serves; back when Redis is', async () => {
    await redis.stop();
    let down: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 100; i++) {
      down = await callWithNonce(spa, a, '/dpop/down');
      if (down.status === 503) break;
    }
    expect(down?.status).toBe(503);
    expect(JSON.parse(down!.body)['error']).toBe('ERR_DPOP_REPLAY_STORE_UNAVAILABLE');
    expect(down?.headers.get('retry-after')).toBe('1');
    const ready = await fetch(`http://${a.addresses.admin}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain('dpopReplayStore');
    const served = await callWithNonce(spa, open, '/dpop/open');
    expect(served.status).toBe(200);
    // The warning is written as the outage is seen: wait for the line (bounded), not a race.
    expect(await open.waitForLine('FAILING OPEN', 0, 10_000)).toContain('FAILING OPEN');
    await redis.start();
    let back: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 100; i++) {
      back = await callWithNonce(spa, a, '/dpop/back');
      if (back.status === 200) break;
    }
    expect(back?.status).toBe(200);
  }, 60_000);
});
