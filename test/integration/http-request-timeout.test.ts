import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, type TokenClient } from '../../src/token/token-client.js';
import { sourceOf } from '../support/as.js';
import { MESH_PAYMENTS, startMesh, type Mesh } from '../support/reliability-mesh.js';

/** Sends `head` (+ a partial body) over mTLS and collects what comes back until close. */
function sendPartial(port: number, mesh: Mesh, head: string): Promise<string> {
  const orders = mesh.pki.workloads['orders']!;
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: orders.bundlePem,
        cert: orders.certPem,
        key: orders.keyPem,
        ALPNProtocols: ['http/1.1'],
      },
      () => socket.write(head),
    );
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('inbound listener: HTTP/1.1 request body deadline (limits.requestTimeout)', () => {
  let mesh: Mesh;
  let tokens: TokenClient;
  let source: ReturnType<typeof sourceOf>;
  beforeAll(async () => {
    mesh = await startMesh({ withA: false, inboundLimits: { requestTimeout: 400 } });
    source = sourceOf(mesh.pki.workloads['orders']!);
    tokens = await createTokenClient({
      source,
      clientId: 'orders',
      issuer: mesh.as.issuer,
      ca: mesh.pki.ca.certPem,
    });
  });
  afterAll(async () => {
    await tokens?.close();
    await source?.close();
    await mesh?.close();
  });

  it('answers 408 ERR_REQUEST_TIMEOUT and closes when a verified request never finishes its body', async () => {
    const { accessToken } = await tokens.get({ resource: MESH_PAYMENTS, scope: 'payments:read' });
    const answer = await sendPartial(
      mesh.sidecarB.inbound!.port,
      mesh,
      `POST /upload HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${accessToken}\r\ncontent-length: 1000\r\n\r\nonly a part`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('ERR_REQUEST_TIMEOUT');
  });

  it('does not cut a bodiless request that is slow to be answered', async () => {
    const { accessToken } = await tokens.get({ resource: MESH_PAYMENTS, scope: 'payments:read' });
    const answer = await sendPartial(
      mesh.sidecarB.inbound!.port,
      mesh,
      `GET /slow-ok HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${accessToken}\r\nconnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});
