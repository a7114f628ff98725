import { readFileSync } from 'node:fs';
import {
  ResponderBuilder,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  ServerListenerBuilder,
  type sendUnaryData,
  type ServerInterceptor,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import type { JSONWebKeySet } from 'jose';
import { demoProtos, type EchoRequest, type EchoResponse } from '../devstack/demo-protos.js';
import { boundTokenServerInterceptor, grpcPrincipalOf } from '../src/grpc/server-interceptor.js';
import { createVerifier } from '../src/verify/create-verifier.js';

/** What the parent passes (JSON in argv[2]). */
interface GrpcEchoSpec {
  certPath: string;
  keyPath: string;
  caPath: string;
  jwksPath: string;
  issuer: string;
  audience: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as GrpcEchoSpec;

const implementation = {
  Unary(call: ServerUnaryCall<EchoRequest, EchoResponse>, cb: sendUnaryData<EchoResponse>) {
    const p = grpcPrincipalOf(call);
    cb(null, {
      message: call.request.message,
      client_id: p?.clientId ?? '',
      spiffe_id: p?.spiffeId ?? '',
      index: 0,
    });
  },
};

async function serve(credentials: ServerCredentials, interceptors: ServerInterceptor[]) {
  const server = new Server({ interceptors });
  server.addService(demoProtos().echoService, implementation);
  return new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
}

const mtls = (): ServerCredentials =>
  ServerCredentials.createSsl(
    readFileSync(spec.caPath),
    [{ cert_chain: readFileSync(spec.certPath), private_key: readFileSync(spec.keyPath) }],
    true,
  );
const verifier = createVerifier({
  jwks: { keys: JSON.parse(readFileSync(spec.jwksPath, 'utf8')) as JSONWebKeySet },
  issuer: spec.issuer,
  audience: spec.audience,
});
// The floor under any verifying interceptor: grpc-js's own interception (a listener on the
// request metadata and a responder, as boundTokenServerInterceptor builds them), going on
// after one promise, with no check at all.
const passThrough: ServerInterceptor = (_method, call) => {
  const listener = new ServerListenerBuilder()
    .withOnReceiveMetadata((metadata, next) => {
      void Promise.resolve(metadata).then(next);
    })
    .build();
  const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
  return new ServerInterceptingCall(call, responder);
};
// Four servers in one process (one is loaded at a time): the same echo service over mTLS
// without an interceptor, with the pass-through one and with certbound's, and in plaintext
// h2c as the app behind the sidecar and the bare relay.
const directPort = await serve(mtls(), []);
const passThroughPort = await serve(mtls(), [passThrough]);
const interceptorPort = await serve(mtls(), [boundTokenServerInterceptor(verifier)]);
const plainPort = await serve(ServerCredentials.createInsecure(), []);
process.stdout.write(
  `${JSON.stringify({ directPort, passThroughPort, interceptorPort, plainPort })}\n`,
);
