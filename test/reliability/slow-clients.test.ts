import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { TokenClient } from '../../src/token/token-client.js';
import { sourceOf } from '../support/as.js';
import { mtlsAgent, send } from '../support/http-fixtures.js';
import { rss, settleOn } from '../support/reliability-handles.js';
import { MESH_PAYMENTS, startMesh, type Mesh } from '../support/reliability-mesh.js';

const IDLE_HTTP1 = 150;
const IDLE_H2 = 50;
const DRIBBLERS = 20;
const NORMAL_REQUESTS = 50;
const HEADERS_TIMEOUT_MS = 1_500;
/** Generous: the whole test process (both ends of 220 TLS connections) may not grow more. */
const RSS_BOUND_BYTES = 200 * 1024 * 1024;

let mesh: Mesh;
let source: StaticX509Source;
let tokens: TokenClient;
const attackers: TLSSocket[] = [];
const timers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  mesh = await startMesh({
    withA: false,
    inboundLimits: { headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: HEADERS_TIMEOUT_MS },
  });
  source = sourceOf(mesh.pki.workloads['orders']!);
  tokens = new TokenClient({
    source,
    clientId: 'orders',
    issuer: mesh.as.issuer,
    ca: readFileSync(mesh.bundlePath, 'utf8'),
  });
});

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const s of attackers) s.destroy();
  await tokens?.close();
  await source?.close();
  await mesh?.close();
});

interface Attacker {
  socket: TLSSocket;
  /** Resolves when the server closed the connection, with what it sent first. */
  closed: Promise<string>;
}

function attack(alpn: 'http/1.1' | 'h2', dribble: boolean): Promise<Attacker> {
  const w = mesh.pki.workloads['attacker']!;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: mesh.sidecarB.inbound!.port,
      servername: 'localhost',
      ca: w.bundlePem,
      cert: w.certPem,
      key: w.keyPem,
      ALPNProtocols: [alpn],
    });
    attackers.push(socket);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<string>((r) => socket.once('close', () => r(received)));
    socket.once('secureConnect', () => {
      if (dribble) {
        // Slowloris: a request line, then one header line at a time, never the blank line.
        socket.write('GET /slowloris HTTP/1.1\r\nhost: localhost\r\n');
        let i = 0;
        const timer = setInterval(() => {
          if (socket.writable) socket.write(`x-drip-${i++}: a\r\n`);
        }, 100);
        timers.push(timer);
        void closed.then(() => clearInterval(timer));
      }
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

describe('many idle connections and slow clients (slowloris, bounded)', () => {
  it(`holds ${IDLE_HTTP1 + IDLE_H2} idle TLS connections and ${DRIBBLERS} header dribblers, serves a normal client throughout, closes every attacker, memory bounded`, async () => {
    const w = mesh.pki.workloads['orders']!;
    const token = (await tokens.get({ resource: MESH_PAYMENTS })).accessToken;
    const normal = mtlsAgent(w, w.bundlePem);
    expect(
      (
        await send(normal, `${mesh.inboundB}/warm`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
    ).toBe(200);
    const rssBefore = rss();

    const idle: Attacker[] = [];
    for (let i = 0; i < IDLE_HTTP1; i++) idle.push(await attack('http/1.1', false));
    for (let i = 0; i < IDLE_H2; i++) idle.push(await attack('h2', false));
    const dribblers: Attacker[] = [];
    for (let i = 0; i < DRIBBLERS; i++) dribblers.push(await attack('http/1.1', true));
    const attackerCount = idle.length + dribblers.length;

    // A normal client during the attack.
    const statuses: number[] = [];
    for (let i = 0; i < NORMAL_REQUESTS; i++) {
      const res = await send(normal, `${mesh.inboundB}/during/${i}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      statuses.push(res.status);
    }
    const rssPeak = rss();

    // The server closes every attacker (bounded wait; the check is the count).
    let closedByServer = 0;
    for (const a of [...idle, ...dribblers]) void a.closed.then(() => closedByServer++);
    await settleOn(
      () => closedByServer,
      (n) => n === attackerCount,
      20_000,
    );
    const dribblerAnswers = await Promise.all(
      dribblers.map((d) => Promise.race([d.closed, Promise.resolve('(open)')])),
    );
    // Still served after the attack.
    const afterStatus = (
      await send(normal, `${mesh.inboundB}/after`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).status;
    await normal.close();
    const dribbled = mesh.appB.seen.filter((s) => s.url === '/slowloris').length;
    console.info(
      `slow clients: ${attackerCount} attackers, ${closedByServer} closed by the server; normal client ${statuses.filter((s) => s === 200).length}/${NORMAL_REQUESTS} ok; RSS +${Math.round((rssPeak - rssBefore) / 1024 / 1024)} MiB`,
    );

    expect(statuses).toEqual(Array(NORMAL_REQUESTS).fill(200));
    expect(afterStatus).toBe(200);
    expect(closedByServer).toBe(attackerCount);
    for (const answer of dribblerAnswers) expect(answer).toMatch(/^(HTTP\/1\.1 408 |$)/);
    expect(dribbled).toBe(0);
    expect(rssPeak - rssBefore).toBeLessThan(RSS_BOUND_BYTES);
    expect(mesh.sidecarB.ready()).toBe(true);
  });
});
