import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startRecordingApp, type RecordingApp } from '../support/http-fixtures.js';
import { startInboundSidecar, type InboundSidecar } from '../support/inbound-sidecar.js';
import { openRawHttp1, rawRequest, type RawResponse } from '../support/raw-http1.js';

const POLICIES = `  policies:
    - { prefix: /admin, scopes: [admin] }`;

/** A WebSocket app: `/ws` switches protocols, `/deny` answers 403; plain requests 200. */
interface WsApp {
  readonly url: string;
  readonly upgrades: Array<{ url: string; headers: IncomingHttpHeaders }>;
  readonly requests: Array<{ url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

async function startWsApp(): Promise<WsApp> {
  const upgrades: WsApp['upgrades'] = [];
  const requests: WsApp['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    res.end('plain');
  });
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${String(req.headers['x-certbound-client-id'])}`);
    ws.on('message', (m) => ws.send(`echo ${(m as Buffer).toString()}`));
  });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/ws') {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      return;
    }
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 13\r\nx-app: deny\r\n\r\ndenied by app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upgrades,
    requests,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const wsUpgrade = (path: string, token: string, extra: Record<string, string> = {}): string =>
  rawRequest(`GET ${path}`, {
    host: 'localhost',
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    authorization: `Bearer ${token}`,
    ...extra,
  });

function errorOf(res: RawResponse | 'closed'): [number, unknown] {
  if (res === 'closed') return [0, 'closed'];
  return [res.status, (JSON.parse(res.body) as { error?: unknown }).error];
}

describe('certbound run: an upgrade request never opens an unverified tunnel', () => {
  let plainApp: RecordingApp;
  let wsApp: WsApp;
  let plain: InboundSidecar;
  let ws: InboundSidecar;

  beforeAll(async () => {
    [plainApp, wsApp] = await Promise.all([startRecordingApp(), startWsApp()]);
    [plain, ws] = await Promise.all([
      startInboundSidecar(plainApp.url, POLICIES),
      startInboundSidecar(wsApp.url, POLICIES),
    ]);
  });

  afterAll(async () => {
    await Promise.all([plain?.close(), ws?.close()]);
    await Promise.all([plainApp?.close(), wsApp?.close()]);
  });

  beforeEach(() => {
    plainApp.seen.length = 0;
    wsApp.upgrades.length = 0;
    wsApp.requests.length = 0;
  });

  it('upgrade bypass: a plain HTTP app that does not switch protocols keeps every later request verified', async () => {
    const conn = await openRawHttp1(plain.port, plain.orders);
    try {
      conn.write(wsUpgrade('/ws', await plain.token(), { 'x-certbound-client-id': 'evil' }));
      const first = await conn.next();
      expect(first !== 'closed' && first.status).toBe(200);
      // The same connection, no token, an identity header and a policy-guarded path.
      conn.write(rawRequest('GET /admin', { host: 'localhost', 'x-certbound-client-id': 'admin' }));
      expect(errorOf(await conn.next())).toEqual([401, 'ERR_TOKEN_MISSING']);
      conn.write(
        rawRequest('GET /admin', {
          host: 'localhost',
          authorization: `Bearer ${await plain.token()}`,
        }),
      );
      expect(errorOf(await conn.next())).toEqual([403, 'ERR_INSUFFICIENT_SCOPE']);
      conn.write(
        rawRequest('GET /data', {
          host: 'localhost',
          authorization: `Bearer ${await plain.token()}`,
        }),
      );
      const last = await conn.next();
      expect(last !== 'closed' && last.status).toBe(200);
    } finally {
      conn.close();
    }
    expect(plainApp.seen.map((s) => s.url)).toEqual(['/ws', '/data']);
    for (const seen of plainApp.seen) expect(seen.headers['x-certbound-client-id']).toBe('orders');
    expect(plainApp.seen[0]!.headers['upgrade']).toBe('websocket');
  });

  it('upgrade bypass: a request pipelined behind the upgrade request is verified too', async () => {
    const conn = await openRawHttp1(plain.port, plain.orders);
    try {
      conn.write(
        wsUpgrade('/ws', await plain.token()) +
          rawRequest('GET /admin/secret', { host: 'localhost', 'x-certbound-scope': 'admin' }),
      );
      const first = await conn.next();
      expect(first !== 'closed' && first.status).toBe(200);
      expect(errorOf(await conn.next())).toEqual([401, 'ERR_TOKEN_MISSING']);
    } finally {
      conn.close();
    }
    expect(plainApp.seen.map((s) => s.url)).toEqual(['/ws']);
  });

  it('upgrade bypass: an app answering 403 to the upgrade is relayed, and the connection stays verified HTTP', async () => {
    const conn = await openRawHttp1(ws.port, ws.orders);
    try {
      conn.write(wsUpgrade('/deny', await ws.token()));
      const denied = await conn.next();
      expect(denied).not.toBe('closed');
      const res = denied as RawResponse;
      expect([res.status, res.body, res.headers['x-app']]).toEqual([403, 'denied by app', 'deny']);
      conn.write(rawRequest('GET /after', { host: 'localhost', 'x-certbound-client-id': 'admin' }));
      expect(errorOf(await conn.next())).toEqual([401, 'ERR_TOKEN_MISSING']);
    } finally {
      conn.close();
    }
    expect(wsApp.upgrades.map((u) => u.url)).toEqual(['/deny']);
    expect(wsApp.requests).toEqual([]);
  });

  it('a verified WebSocket is joined only after the app answered 101, with the verified identity', async () => {
    const socket = new WebSocket(`wss://localhost:${ws.port}/ws`, {
      ca: ws.orders.bundlePem,
      cert: ws.orders.certPem,
      key: ws.orders.keyPem,
      headers: {
        authorization: `Bearer ${await ws.token()}`,
        'x-certbound-client-id': 'evil',
        x_certbound_client_id: 'evil',
      },
    });
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('message', (m) => {
        messages.push((m as Buffer).toString());
        if (messages.length === 1) socket.send('ping');
        if (messages.length === 2) resolve();
      });
      socket.once('error', reject);
    });
    socket.close();
    expect(messages).toEqual(['hello orders', 'echo ping']);
    expect(wsApp.upgrades).toHaveLength(1);
    expect(wsApp.upgrades[0]!.headers['x_certbound_client_id']).toBeUndefined();
  });

  it('upgrade h2c: Upgrade h2c with HTTP2-Settings is refused with ERR_UPGRADE_UNSUPPORTED; the app sees nothing', async () => {
    const conn = await openRawHttp1(ws.port, ws.orders);
    try {
      conn.write(
        rawRequest('GET /data', {
          host: 'localhost',
          connection: 'Upgrade, HTTP2-Settings',
          upgrade: 'h2c',
          'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
          authorization: `Bearer ${await ws.token()}`,
        }),
      );
      expect(errorOf(await conn.next())).toEqual([400, 'ERR_UPGRADE_UNSUPPORTED']);
    } finally {
      conn.close();
    }
    expect(wsApp.upgrades).toEqual([]);
    expect(wsApp.requests).toEqual([]);
  });

  it('upgrade h2c: an Upgrade header without Connection upgrade never reaches the app', async () => {
    const conn = await openRawHttp1(ws.port, ws.orders);
    try {
      conn.write(
        rawRequest('GET /data', {
          host: 'localhost',
          upgrade: 'h2c',
          'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
          authorization: `Bearer ${await ws.token()}`,
        }),
      );
      const res = await conn.next();
      expect(res !== 'closed' && res.status).toBe(200);
    } finally {
      conn.close();
    }
    expect(wsApp.upgrades).toEqual([]);
    expect(wsApp.requests).toHaveLength(1);
    expect(wsApp.requests[0]!.headers['upgrade']).toBeUndefined();
    expect(wsApp.requests[0]!.headers['http2-settings']).toBeUndefined();
  });

  it('upgrade header injection: a CR LF in the subject claim is refused with ERR_CLAIM_UNSAFE; no header is injected', async () => {
    const conn = await openRawHttp1(ws.port, ws.orders);
    try {
      const token = await ws.token({ sub: 'orders\r\nx-certbound-scope: admin' });
      conn.write(wsUpgrade('/ws', token));
      expect(errorOf(await conn.next())).toEqual([401, 'ERR_CLAIM_UNSAFE']);
    } finally {
      conn.close();
    }
    expect(wsApp.upgrades).toEqual([]);
  });

  it('upgrade with a request body is refused with ERR_UPGRADE_UNSUPPORTED', async () => {
    const conn = await openRawHttp1(ws.port, ws.orders);
    try {
      conn.write(wsUpgrade('/ws', await ws.token(), { 'content-length': '5' }) + 'hello');
      expect(errorOf(await conn.next())).toEqual([400, 'ERR_UPGRADE_UNSUPPORTED']);
    } finally {
      conn.close();
    }
    expect(wsApp.upgrades).toEqual([]);
  });
});
