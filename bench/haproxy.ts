import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianCommand } from '../test/support/debian-package.js';

/** Finds haproxy, installing the Debian package when missing and possible. */
export function ensureHaproxy(): { path?: string; note: string } {
  const found = ensureDebianCommand('haproxy');
  return found.path !== undefined
    ? found
    : { note: 'haproxy could not be installed (apt-get failed): HAProxy rows skipped' };
}

/** Options of the HAProxy peer: the same job as certbound's inbound path. */
export interface HaproxyOptions {
  dir: string;
  port: number;
  serverPemPath: string;
  caPath: string;
  issuerPublicKeyPath: string;
  issuer: string;
  audience: string;
  appPort: number;
  cpu?: number;
}

/**
 * HAProxy 2.6 configured to do what certbound's inbound listener does: terminate mTLS,
 * verify the ES256 JWT (alg, signature, iss, aud, exp), compare `cnf.x5t#S256` with the
 * SHA-256 of the client certificate (base64url), strip spoofable identity headers and
 * proxy to the app over keep-alive.
 */
export function haproxyConfig(o: HaproxyOptions): string {
  return `global
  nbthread 1
  tune.ssl.default-dh-param 2048
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend certbound_equivalent
  bind 127.0.0.1:${o.port} ssl crt ${o.serverPemPath} ca-file ${o.caPath} verify required ssl-min-ver TLSv1.2
  http-request del-header x-certbound-client-id
  http-request set-var(txn.bearer) http_auth_bearer
  http-request return status 401 unless { var(txn.bearer) -m found }
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request return status 401 unless { var(txn.alg) -m str ES256 }
  http-request return status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${o.issuerPublicKeyPath}") -m int 1 }
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
  http-request return status 401 unless { var(txn.iss) -m str ${o.issuer} }
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
  http-request return status 401 unless { var(txn.aud) -m str ${o.audience} }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date()
  http-request return status 401 unless { var(txn.exp),sub(txn.now) gt 0 }
  http-request set-var(txn.cnf) var(txn.bearer),jwt_payload_query('$.cnf.x5t#S256')
  http-request set-var(txn.thumb) ssl_c_der,sha2(256),ub64enc
  http-request return status 401 unless { var(txn.cnf),strcmp(txn.thumb) eq 0 }
  http-request set-header x-certbound-cert-thumbprint %[var(txn.thumb)]
  http-request del-header authorization
  default_backend app
backend app
  http-reuse always
  server app 127.0.0.1:${o.appPort}
`;
}

/** Starts HAProxy with {@link haproxyConfig}; resolves once it accepts connections. */
export async function startHaproxy(
  binary: string,
  o: HaproxyOptions,
  waitForPort: (port: number) => Promise<void>,
): Promise<ChildProcess> {
  const cfg = join(o.dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(o));
  execFileSync(binary, ['-c', '-q', '-f', cfg]);
  const args = ['-db', '-f', cfg];
  const child =
    o.cpu !== undefined
      ? spawn('taskset', ['-c', String(o.cpu), binary, ...args], { stdio: 'ignore' })
      : spawn(binary, args, { stdio: 'ignore' });
  await waitForPort(o.port);
  return child;
}
