import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type Mesh } from '../support/reliability-mesh.js';

function viaProxy(proxy: string, target: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(proxy);
  return new Promise((resolve, reject) => {
    // HTTP_PROXY style (RFC 9112 §3.2.2 absolute-form): the upstream name is the host.
    const req = request({ host: hostname, port, path: target, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('outbound listener used as an HTTP_PROXY', () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(() => mesh?.close());

  it('forwards absolute-form requests for a configured upstream with a bound token', async () => {
    const before = mesh.appB.seen.length;
    const res = await viaProxy(mesh.outboundA, 'http://payments/orders/42?x=1');
    expect(res.status).toBe(200);
    const seen = mesh.appB.seen[before]!;
    expect(seen.url).toBe('/orders/42?x=1');
    expect(seen.headers['x-certbound-client-id']).toBe('orders');
    expect(seen.headers['x-certbound-cert-thumbprint']).toBe(
      mesh.pki.workloads['orders']!.thumbprint,
    );
    expect(seen.headers['authorization']).toBeUndefined();
  });

  it('refuses an absolute-form request for a host that is not a configured upstream', async () => {
    const before = mesh.appB.seen.length;
    const res = await viaProxy(mesh.outboundA, 'http://example.com/');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'ERR_UPSTREAM_UNKNOWN' });
    expect(mesh.appB.seen.length).toBe(before);
  });
});
