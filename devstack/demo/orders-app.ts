import {
  Server,
  ServerCredentials,
  type Metadata,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { demoProtos, type EchoRequest, type EchoResponse } from '../demo-protos.js';

/** The demo's gRPC service (`demo.v1.Echo`): plaintext HTTP/2 on 127.0.0.1 behind its sidecar. */
export interface OrdersApp {
  /** h2c address for the sidecar's `inbound.app.grpcUrl`. */
  readonly url: string;
  /** Calls received so far. */
  readonly calls: () => number;
  close(): Promise<void>;
}

function first(md: Metadata, key: string): string {
  const value = md.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/**
 * Starts the orders app. It has no TLS and no token check of its own: its sidecar verified
 * the call and passes the caller as `x-certbound-client-id` / `x-certbound-spiffe-id`.
 */
export async function startOrdersApp(port = 0): Promise<OrdersApp> {
  let calls = 0;
  const reply = (md: Metadata, message: string, index: number): EchoResponse => ({
    message,
    client_id: first(md, 'x-certbound-client-id'),
    spiffe_id: first(md, 'x-certbound-spiffe-id'),
    index,
  });
  const server = new Server();
  server.addService(demoProtos().echoService, {
    Unary(call: ServerUnaryCall<EchoRequest, EchoResponse>, cb: sendUnaryData<EchoResponse>) {
      calls++;
      cb(null, reply(call.metadata, call.request.message, 0));
    },
    ServerStream(call: ServerWritableStream<EchoRequest, EchoResponse>) {
      calls++;
      for (let i = 0; i < Math.min(call.request.count, 100); i++) {
        call.write(reply(call.metadata, call.request.message, i));
      }
      call.end();
    },
    ClientStream(
      call: ServerReadableStream<EchoRequest, EchoResponse>,
      cb: sendUnaryData<EchoResponse>,
    ) {
      calls++;
      const parts: string[] = [];
      call.on('data', (r: EchoRequest) => parts.push(r.message));
      call.on('end', () => cb(null, reply(call.metadata, parts.join(','), parts.length)));
    },
    Bidi(call: ServerDuplexStream<EchoRequest, EchoResponse>) {
      calls++;
      let i = 0;
      call.on('data', (r: EchoRequest) => call.write(reply(call.metadata, r.message, i++)));
      call.on('end', () => call.end());
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${bound}`,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // In-flight calls get no grace in the demo: the sidecars are already gone.
        server.forceShutdown();
      }),
  };
}
