import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRecordingApp, type RecordingApp } from '../support/http-fixtures.js';
import { startInboundSidecar, type InboundSidecar } from '../support/inbound-sidecar.js';
import { openRawHttp1, rawRequest, type RawResponse } from '../support/raw-http1.js';

const POLICIES = `  policies:
    - { prefix: /admin, scopes: [admin] }
    - { prefix: /Reports, scopes: [reports], caseSensitive: true }`;

let app: RecordingApp;
let sidecar: InboundSidecar;

beforeAll(async () => {
  app = await startRecordingApp();
  sidecar = await startInboundSidecar(app.url, POLICIES);
});

afterAll(async () => {
  await sidecar?.close();
  await app?.close();
});

beforeEach(() => {
  app.seen.length = 0;
});

/** Sends `METHOD target` with a valid token on a fresh raw connection. */
async function exchange(head: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const conn = await openRawHttp1(sidecar.port, sidecar.orders);
  try {
    conn.write(
      rawRequest(head, {
        host: 'localhost',
        authorization: `Bearer ${await sidecar.token()}`,
        ...headers,
      }),
    );
    const res = await conn.next();
    if (res === 'closed') throw new Error(`${head}: connection closed without an answer`);
    return res;
  } finally {
    conn.close();
  }
}

const codeOf = (res: RawResponse): unknown =>
  res.status === 200 ? 'ok' : (JSON.parse(res.body) as { error?: unknown }).error;

describe('certbound run: the request target the app routes is the one the policy judged', () => {
  const refused: Array<[string, number, string]> = [
    // RFC 9112 §3.2.2 absolute-form: matched by its path.
    ['GET https://localhost/admin/users', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET HTTPS://LOCALHOST/admin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET http://localhost:1/admin?x=1', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET https://localhost', 200, 'ok'],
    ['GET ftp://localhost/admin', 400, 'ERR_REQUEST_TARGET_UNSUPPORTED'],
    ['GET https://user@localhost/admin', 400, 'ERR_REQUEST_TARGET_INVALID'],
    ['GET https:///admin', 400, 'ERR_REQUEST_TARGET_INVALID'],
    ['OPTIONS *', 400, 'ERR_REQUEST_TARGET_UNSUPPORTED'],
    ['CONNECT localhost:443', 400, 'ERR_REQUEST_TARGET_UNSUPPORTED'],
    // Case: Express and most routers ignore it.
    ['GET /ADMIN/users', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET /Admin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    // Normalised before matching.
    ['GET /%41dmin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET /%61%64%6d%69%6e/x', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET //admin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET /public/../admin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET /public/%2e%2E/admin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET /./admin', 403, 'ERR_INSUFFICIENT_SCOPE'],
    // Paths that cannot be normalised safely are refused, never passed.
    ['GET /public/..;/admin', 400, 'ERR_PATH_UNSAFE'],
    ['GET /public%2F..%2Fadmin', 400, 'ERR_PATH_UNSAFE'],
    ['GET /public%5C..%5Cadmin', 400, 'ERR_PATH_UNSAFE'],
    ['GET /public\\..\\admin', 400, 'ERR_PATH_UNSAFE'],
    ['GET /admin#x', 400, 'ERR_PATH_UNSAFE'],
    ['GET /%zz', 400, 'ERR_PATH_UNSAFE'],
    ['GET /a%00b', 400, 'ERR_PATH_UNSAFE'],
    // caseSensitive: true on /Reports.
    ['GET /Reports/q1', 403, 'ERR_INSUFFICIENT_SCOPE'],
    ['GET /reports/q1', 200, 'ok'],
  ];

  it.each(refused)('request target %s → %i %s', async (head, status, code) => {
    const res = await exchange(head);
    expect([res.status, codeOf(res)]).toEqual([status, code]);
    if (status !== 200) expect(app.seen).toEqual([]);
  });

  it('absolute-form target is forwarded in origin-form, with Host from the target', async () => {
    const res = await exchange('GET https://Payments.Example:8443/data?x=1', {
      host: 'other.example',
    });
    expect(res.status).toBe(200);
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0]!.url).toBe('/data?x=1');
    expect(app.seen[0]!.headers['host']).toBe('Payments.Example:8443');
  });

  it('one interpretation: the app and the access log get the normalised path the policy judged', async () => {
    const res = await exchange('GET /a//b/./c/../%7euser/%c3%a9?q=%2e&r=/../x');
    expect(res.status).toBe(200);
    expect(app.seen.map((s) => s.url)).toEqual(['/a/b/~user/%C3%A9?q=%2e&r=/../x']);
    // Only this request's path starts with /a/, normalised or not.
    const line = await sidecar.accessLogLine((l) => String(l['path']).startsWith('/a/'));
    expect([line['path'], line['status']]).toEqual(['/a/b/~user/%C3%A9', 200]);
  });
});
