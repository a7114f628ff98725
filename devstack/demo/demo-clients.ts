import { readFileSync } from 'node:fs';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  credentials,
  makeClientConstructor,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { demoProtos, type EchoRequest, type EchoResponse } from '../demo-protos.js';
import {
  certboundProtos,
  type GetTokenRequest,
  type GetTokenResponse,
} from '../../src/grpc/protos.js';

/** One HTTP exchange. */
export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function collect(
  res: IncomingMessage,
  resolve: (r: HttpResult) => void,
  reject: (e: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.once('error', reject);
  res.once('end', () =>
    resolve({
      status: res.statusCode ?? 0,
      headers: res.headers,
      body: Buffer.concat(chunks).toString(),
    }),
  );
}

/**
 * `GET https://127.0.0.1:<port><path>` presenting the given certificate files (or none),
 * trusting `caPath`. Rejects with the TLS error when the handshake or the connection fails.
 */
export function mtlsGet(options: {
  address: string;
  path: string;
  caPath: string;
  certPath?: string;
  keyPath?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}): Promise<HttpResult> {
  const [host, port] = options.address.split(':');
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host,
        port: Number(port),
        path: options.path,
        method: 'GET',
        // The dev CA puts localhost in every SAN; an IP as TLS ServerName is deprecated (RFC 6066 §3).
        servername: 'localhost',
        ca: readFileSync(options.caPath),
        ...(options.certPath !== undefined ? { cert: readFileSync(options.certPath) } : {}),
        ...(options.keyPath !== undefined ? { key: readFileSync(options.keyPath) } : {}),
        headers: options.headers ?? {},
        agent: false,
        timeout: options.timeoutMs ?? 15_000,
      },
      (res) => collect(res, resolve, reject),
    );
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** Plain HTTP to the local outbound proxy, over one keep-alive agent per caller. */
export function createLocalHttp(): {
  get(url: string, timeoutMs?: number): Promise<HttpResult>;
  close(): void;
} {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  return {
    get: (url, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(url, { agent, timeout: timeoutMs }, (res) =>
          collect(res, resolve, reject),
        );
        req.once('timeout', () => req.destroy(new Error('timed out')));
        req.once('error', reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}

/** `demo.v1.Echo` client surface used by the demo. */
export interface EchoClient extends Client {
  Unary(
    req: Partial<EchoRequest>,
    md: Metadata,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: EchoResponse) => void,
  ): ClientUnaryCall;
}

/** TLS channel credentials from PEM files (no client certificate when `certPath` is absent). */
export function fileChannelCredentials(
  caPath: string,
  certPath?: string,
  keyPath?: string,
): ChannelCredentials {
  return credentials.createSsl(
    readFileSync(caPath),
    keyPath !== undefined ? readFileSync(keyPath) : null,
    certPath !== undefined ? readFileSync(certPath) : null,
  );
}

/**
 * A `demo.v1.Echo` client for `127.0.0.1:<port>` with its own connections. `authority`
 * names the upstream when dialing a sidecar's outbound gRPC listener.
 */
export function echoClient(
  address: string,
  creds: ChannelCredentials,
  authority?: string,
): EchoClient {
  const Ctor = makeClientConstructor(demoProtos().echoService, 'demo.v1.Echo');
  return new Ctor(address, creds, {
    // A private pool: clients with other certificates never share a connection.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.ssl_target_name_override': 'localhost',
    ...(authority !== undefined ? { 'grpc.default_authority': authority } : {}),
  }) as unknown as EchoClient;
}

/** Outcome of one unary Echo call. */
export type EchoOutcome = { ok: true; res: EchoResponse } | { ok: false; err: ServiceError };

/** Calls `Echo/Unary` with `authorization: Bearer <token>` (bounded by a deadline). */
export function echoUnary(
  client: EchoClient,
  message: string,
  token: string,
  deadlineMs = 15_000,
): Promise<EchoOutcome> {
  const md = new Metadata();
  // An empty token means "let the sidecar attach one" (outbound gRPC listener).
  if (token !== '') md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.Unary({ message }, md, { deadline: Date.now() + deadlineMs }, (err, res) =>
      resolve(err ? { ok: false, err } : { ok: true, res: res as EchoResponse }),
    );
  });
}

interface TokenServiceClient extends Client {
  GetToken(
    req: Partial<GetTokenRequest>,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: GetTokenResponse) => void,
  ): ClientUnaryCall;
}

/** A client of a sidecar's local token API (`certbound.v1.TokenService`). */
export interface TokenApiClient {
  getToken(request: Partial<GetTokenRequest>): Promise<GetTokenResponse>;
  close(): void;
}

/** Connects to the local token API at `target` (`unix:/…` or `127.0.0.1:PORT`). */
export function tokenApiClient(target: string): TokenApiClient {
  const Ctor = makeClientConstructor(certboundProtos().tokenService, 'certbound.v1.TokenService');
  const client = new Ctor(target, credentials.createInsecure()) as unknown as TokenServiceClient;
  return {
    getToken: (request) =>
      new Promise((resolve, reject) =>
        client.GetToken(request, { deadline: Date.now() + 15_000 }, (err, res) =>
          err ? reject(err) : resolve(res as GetTokenResponse),
        ),
      ),
    close: () => client.close(),
  };
}
