import {
  Metadata,
  Server,
  makeClientConstructor,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type Interceptor,
  type ServerCredentials,
  type ServerInterceptor,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type ServiceError,
  type ClientReadableStream,
  type ClientWritableStream,
  type ClientDuplexStream,
  type CallOptions,
  type ClientUnaryCall,
} from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from 'jose';
import { demoProtos, type EchoRequest, type EchoResponse } from '../../devstack/demo-protos.js';
import { grpcPrincipalOf } from '../../src/grpc/server-interceptor.js';
import type { Principal } from '../../src/verify/principal.js';

export const ISSUER = 'https://as.test.local';
export const AUDIENCE = 'https://payments.test.local';

/** Signs RFC 9068 access tokens bound to a thumbprint, with an ES256 key made per run. */
export interface TokenMinter {
  readonly jwks: JSONWebKeySet;
  mint(claims: {
    thumbprint?: string;
    clientId?: string;
    scope?: string;
    expiresInSec?: number;
    audience?: string;
  }): Promise<string>;
}

export async function createTokenMinter(): Promise<TokenMinter> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    async mint(c) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + (c.expiresInSec ?? 300);
      const jwt = new SignJWT({
        client_id: c.clientId ?? 'orders',
        scope: c.scope ?? 'echo',
        ...(c.thumbprint !== undefined ? { cnf: { 'x5t#S256': c.thumbprint } } : {}),
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(c.audience ?? AUDIENCE)
        .setSubject(c.clientId ?? 'orders')
        .setIssuedAt(Math.min(now, exp - 60))
        .setExpirationTime(exp)
        .setJti(Math.random().toString(36).slice(2));
      return jwt.sign(privateKey);
    },
  };
}

/** What an echo handler saw on one call. */
export interface SeenCall {
  method: string;
  principal: Principal | undefined;
  identityMetadata: Record<string, string>;
  hasAuthorization: boolean;
  /** Every metadata key the handler saw. */
  metadataKeys: string[];
  /** The `x-fapi-interaction-id` metadata the handler got. */
  interactionId: string | undefined;
}

function identityMetadataOf(md: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) {
    if (k.startsWith('x-certbound-')) out[k] = String(v);
  }
  return out;
}

/** Echo service implementation that records what each handler saw in `seen`. */
export function echoImplementation(seen: SeenCall[]) {
  const record = (method: string, call: { metadata: Metadata }): Principal | undefined => {
    const principal = grpcPrincipalOf(call);
    seen.push({
      method,
      principal,
      identityMetadata: identityMetadataOf(call.metadata),
      hasAuthorization: call.metadata.get('authorization').length > 0,
      metadataKeys: Object.keys(call.metadata.getMap()),
      interactionId: call.metadata.get('x-fapi-interaction-id')[0] as string | undefined,
    });
    return principal;
  };
  const reply = (p: Principal | undefined, message: string, index: number): EchoResponse => ({
    message,
    client_id: p?.clientId ?? '',
    spiffe_id: p?.spiffeId ?? '',
    index,
  });
  return {
    Unary(call: ServerUnaryCall<EchoRequest, EchoResponse>, cb: sendUnaryData<EchoResponse>) {
      const p = record('Unary', call);
      cb(null, reply(p, call.request.message, 0));
    },
    ServerStream(call: ServerWritableStream<EchoRequest, EchoResponse>) {
      const p = record('ServerStream', call);
      for (let i = 0; i < call.request.count; i++) call.write(reply(p, call.request.message, i));
      call.end();
    },
    ClientStream(
      call: ServerReadableStream<EchoRequest, EchoResponse>,
      cb: sendUnaryData<EchoResponse>,
    ) {
      const p = record('ClientStream', call);
      const parts: string[] = [];
      call.on('data', (r: EchoRequest) => parts.push(r.message));
      call.on('end', () => cb(null, reply(p, parts.join(','), parts.length)));
    },
    Bidi(call: ServerDuplexStream<EchoRequest, EchoResponse>) {
      const p = record('Bidi', call);
      let i = 0;
      call.on('data', (r: EchoRequest) => call.write(reply(p, r.message, i++)));
      call.on('end', () => call.end());
    },
  };
}

/** A running grpc-js echo server on 127.0.0.1. */
export interface EchoServer {
  server: Server;
  port: number;
  seen: SeenCall[];
  close(): Promise<void>;
}

export async function startEchoServer(opts: {
  credentials: ServerCredentials;
  interceptors?: ServerInterceptor[];
  options?: ChannelOptions;
}): Promise<EchoServer> {
  const seen: SeenCall[] = [];
  const server = new Server({ ...(opts.options ?? {}), interceptors: opts.interceptors ?? [] });
  server.addService(demoProtos().echoService, echoImplementation(seen));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', opts.credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** Typed surface of a demo.v1.Echo client. */
export interface EchoClient extends Client {
  Unary(
    req: Partial<EchoRequest>,
    md: Metadata,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: EchoResponse) => void,
  ): ClientUnaryCall;
  ServerStream(
    req: Partial<EchoRequest>,
    md: Metadata,
    options?: CallOptions,
  ): ClientReadableStream<EchoResponse>;
  ClientStream(
    md: Metadata,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: EchoResponse) => void,
  ): ClientWritableStream<EchoRequest>;
  Bidi(md: Metadata, options?: CallOptions): ClientDuplexStream<EchoRequest, EchoResponse>;
}

export function echoClient(
  address: string,
  credentials: ChannelCredentials,
  interceptors: Interceptor[] = [],
  options: ChannelOptions = {},
): EchoClient {
  const Ctor = makeClientConstructor(demoProtos().echoService, 'demo.v1.Echo');
  // A private subchannel pool: channels with other certificates never share a connection.
  return new Ctor(address, credentials, {
    'grpc.use_local_subchannel_pool': 1,
    // The dev CA puts localhost in every SAN; an IP as TLS ServerName is deprecated (RFC 6066 §3).
    'grpc.ssl_target_name_override': 'localhost',
    interceptors,
    ...options,
  }) as unknown as EchoClient;
}

export function metadataOf(entries: Record<string, string | string[]> = {}): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(entries)) {
    for (const value of Array.isArray(v) ? v : [v]) md.add(k, value);
  }
  return md;
}

/** Result of a unary call: the response or the error. */
export type Outcome = { ok: true; res: EchoResponse } | { ok: false; err: ServiceError };

export function unary(
  client: EchoClient,
  req: Partial<EchoRequest>,
  md: Metadata = new Metadata(),
  deadlineMs = 10_000,
): Promise<Outcome> {
  return new Promise((resolve) => {
    client.Unary(req, md, { deadline: Date.now() + deadlineMs }, (err, res) =>
      resolve(err ? { ok: false, err } : { ok: true, res: res! }),
    );
  });
}

/** A unary call's response headers and status metadata (Trailers-Only refusals carry theirs there). */
export function unaryMetadata(
  client: EchoClient,
  md: Metadata,
): Promise<{ ok: boolean; headers: Metadata | undefined; status: Metadata | undefined }> {
  return new Promise((resolve) => {
    let headers: Metadata | undefined;
    const call = client.Unary({ message: 'md' }, md, { deadline: Date.now() + 10_000 }, (err) =>
      resolve({ ok: err === null, headers, status: err?.metadata }),
    );
    call.on('metadata', (m: Metadata) => (headers = m));
  });
}

export function serverStream(
  client: EchoClient,
  req: Partial<EchoRequest>,
  md: Metadata = new Metadata(),
): Promise<{ responses: EchoResponse[]; err?: ServiceError }> {
  return new Promise((resolve) => {
    const responses: EchoResponse[] = [];
    const call = client.ServerStream(req, md, { deadline: Date.now() + 10_000 });
    call.on('data', (r: EchoResponse) => responses.push(r));
    call.on('error', (err: ServiceError) => resolve({ responses, err }));
    call.on('end', () => resolve({ responses }));
  });
}

export function clientStream(
  client: EchoClient,
  messages: string[],
  md: Metadata = new Metadata(),
): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client.ClientStream(md, { deadline: Date.now() + 10_000 }, (err, res) =>
      resolve(err ? { ok: false, err } : { ok: true, res: res! }),
    );
    for (const message of messages) call.write({ message, count: 0 });
    call.end();
  });
}

export function bidi(
  client: EchoClient,
  messages: string[],
  md: Metadata = new Metadata(),
): Promise<{ responses: EchoResponse[]; err?: ServiceError }> {
  return new Promise((resolve) => {
    const responses: EchoResponse[] = [];
    const call = client.Bidi(md, { deadline: Date.now() + 10_000 });
    call.on('data', (r: EchoResponse) => responses.push(r));
    call.on('error', (err: ServiceError) => resolve({ responses, err }));
    call.on('end', () => resolve({ responses }));
    for (const message of messages) call.write({ message, count: 0 });
    call.end();
  });
}
