import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDebianCommand } from './debian-package.js';
import { freePort, waitForPort } from './loopback-ports.js';
import type { TestWorkload } from './pki.js';

/** A real TLS-terminating proxy process in front of certbound. */
export interface TlsProxy {
  /** `https://127.0.0.1:PORT` clients connect to (mTLS). */
  readonly url: string;
  /** Its stderr/log output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Options shared by {@link startNginx} and {@link startHaproxy}. */
export interface TlsProxyOptions {
  /** Work directory (config, pid, temp files). */
  readonly dir: string;
  /** The proxy's certificate: served to clients AND presented to certbound as its client certificate. */
  readonly identity: TestWorkload;
  /** CA bundle the proxy checks clients against, and certbound's server certificate. */
  readonly bundlePath: string;
  /** certbound's inbound `host:port`. */
  readonly upstream: string;
  /**
   * Pass client certificates the proxy could not verify (other CA, expired) on to certbound:
   * a lax proxy, so the tests show certbound re-validating what it is forwarded.
   */
  readonly lax?: boolean;
}

function started(child: ChildProcess, port: number, name: string): Promise<TlsProxy> {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return waitForPort(port).then(
    () => ({
      url: `https://127.0.0.1:${port}`,
      output: () => out,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    }),
    (err: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start: ${String(err)}\n${out}`);
    },
  );
}

/**
 * nginx (Debian package, installed when missing) terminating client mTLS on a free loopback
 * port and proxying to certbound over mTLS with its own certificate (`proxy_ssl_certificate`),
 * forwarding the client certificate as `ssl-client-cert: $ssl_client_escaped_cert` — the
 * ingress-nginx setting. Clients without a certificate are let through (no header then).
 */
export async function startNginx(o: TlsProxyOptions): Promise<TlsProxy> {
  const binary = ensureDebianCommand('nginx').path;
  if (binary === undefined) throw new Error('nginx is not installed and apt-get failed');
  await mkdir(join(o.dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const w = o.identity.paths;
  const conf = join(o.dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(o.dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(o.dir, 'tmp')};
  proxy_temp_path ${join(o.dir, 'tmp')};
  fastcgi_temp_path ${join(o.dir, 'tmp')};
  uwsgi_temp_path ${join(o.dir, 'tmp')};
  scgi_temp_path ${join(o.dir, 'tmp')};
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${w.cert};
    ssl_certificate_key ${w.key};
    ssl_client_certificate ${o.bundlePath};
    ssl_verify_client ${o.lax === true ? 'optional_no_ca' : 'optional'};
    location / {
      proxy_pass https://${o.upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate ${w.cert};
      proxy_ssl_certificate_key ${w.key};
      proxy_ssl_trusted_certificate ${o.bundlePath};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
      proxy_set_header ssl-client-cert $ssl_client_escaped_cert;
    }
  }
}
`,
  );
  execFileSync(binary, ['-t', '-q', '-p', o.dir, '-c', conf], { stdio: 'pipe' });
  const child = spawn(binary, ['-p', o.dir, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  return started(child, port, 'nginx');
}

/**
 * HAProxy (Debian package, installed when missing) terminating client mTLS on a free loopback
 * port and proxying to certbound over mTLS with its own certificate (`server … ssl crt`),
 * forwarding the client certificate RFC 9440 style:
 * `http-request set-header client-cert :%[ssl_c_der,base64]:` after deleting any
 * `client-cert` the client sent.
 */
export async function startHaproxy(o: TlsProxyOptions): Promise<TlsProxy> {
  const binary = ensureDebianCommand('haproxy').path;
  if (binary === undefined) throw new Error('haproxy is not installed and apt-get failed');
  await mkdir(o.dir, { recursive: true });
  const port = await freePort();
  const w = o.identity;
  const pem = join(o.dir, 'haproxy-identity.pem');
  await writeFile(pem, `${w.certPem}\n${w.keyPem}`, { mode: 0o600 });
  const lax = o.lax === true ? ' ca-ignore-err all crt-ignore-err all' : '';
  const cfg = join(o.dir, 'haproxy.cfg');
  await writeFile(
    cfg,
    `global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend tls_in
  bind 127.0.0.1:${port} ssl crt ${pem} ca-file ${o.bundlePath} verify optional${lax}
  http-request del-header client-cert
  http-request del-header client-cert-chain
  http-request set-header client-cert :%[ssl_c_der,base64]: if { ssl_c_used }
  default_backend certbound
backend certbound
  server certbound ${o.upstream} ssl crt ${pem} ca-file ${o.bundlePath} verify required verifyhost localhost sni str(localhost)
`,
  );
  execFileSync(binary, ['-c', '-q', '-f', cfg], { stdio: 'pipe' });
  const child = spawn(binary, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  return started(child, port, 'haproxy');
}
