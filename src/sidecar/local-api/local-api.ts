import { listenerError } from '../listen.js';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { CertboundError } from '../../errors.js';
import type { WorkloadIdentity } from '../../identity/workload-identity.js';
import type { X509Source } from '../../identity/x509-source.js';
import type { TokenProvider, TokenRequest } from '../../token/access-token.js';
import { grpcStatusOf } from '../../grpc/grpc-status.js';
import { isLoopback } from '../../loopback.js';
import { createHealthService, type HealthService } from './health-service.js';
import {
  certboundProtos,
  type GetTokenRequest,
  type GetTokenResponse,
  type IdentityUpdate,
} from '../../grpc/protos.js';

/** Options of {@link startLocalApi}. Give `socketPath`, or `host`/`port`, or neither. */
export interface LocalApiOptions {
  /** Hands out the bound tokens (the sidecar's TokenClient). */
  tokens: TokenProvider;
  /** The workload identity streamed by `WatchIdentity`. */
  source: X509Source;
  /** Unix socket path. Default: a fresh path in the OS temp directory. */
  socketPath?: string;
  /** Loopback address to listen on instead of a socket (`127.0.0.1`, `::1`, `localhost`: see `isLoopback`). */
  host?: string;
  /** TCP port with `host`. Default 0 (any free port). */
  port?: number;
}

/** A running local API. */
export interface LocalApi {
  /** gRPC target: `unix:/path/to.sock` or `127.0.0.1:PORT`. */
  readonly address: string;
  /** `grpc.health.v1.Health` statuses (`''` and `certbound.v1.TokenService` start SERVING). */
  readonly health: HealthService;
  /** Ends the Watch streams and stops the server. */
  close(): Promise<void>;
}

/**
 * Serves `certbound.v1.TokenService`, `certbound.v1.IdentityService` and
 * `grpc.health.v1.Health` on a local-only listener. Plaintext gRPC is used on purpose: a
 * Unix socket (mode 0600) or the loopback interface never leaves the host, and the tokens
 * are useless without the workload's private key, which this API never sends.
 *
 * @throws TypeError when `host` is not a loopback address.
 */
export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const { tokens, source } = options;
  if (options.host !== undefined && !isLoopback(options.host)) {
    throw new TypeError('the local API only listens on loopback (127.0.0.0/8, ::1, localhost)');
  }
  const protos = certboundProtos();
  const server = new Server();
  const health = createHealthService({
    '': 'SERVING',
    'certbound.v1.TokenService': 'SERVING',
    'certbound.v1.IdentityService': 'SERVING',
  });
  const watches = new Set<ServerWritableStream<unknown, IdentityUpdate>>();

  server.addService(protos.tokenService, {
    GetToken(
      call: ServerUnaryCall<GetTokenRequest, GetTokenResponse>,
      callback: sendUnaryData<GetTokenResponse>,
    ): void {
      tokens.get(tokenRequestOf(call.request)).then(
        (token) =>
          callback(null, {
            access_token: token.accessToken,
            token_type: 'Bearer',
            expires_at: Math.floor(token.expiresAt.getTime() / 1000),
            cnf_thumbprint: token.thumbprint,
          }),
        (err: unknown) => callback(grpcStatusOf(err)),
      );
    },
  });

  server.addService(protos.identityService, {
    WatchIdentity(call: ServerWritableStream<unknown, IdentityUpdate>): void {
      watches.add(call);
      let unsubscribe: () => void = () => undefined;
      const stop = (): void => {
        unsubscribe();
        watches.delete(call);
      };
      call.on('cancelled', stop);
      call.on('error', stop);
      try {
        source.current();
      } catch (err) {
        stop();
        const status = grpcStatusOf(
          err instanceof CertboundError ? err : new CertboundError('ERR_SOURCE_CLOSED'),
        );
        call.emit('error', { code: status.code, details: status.details });
        return;
      }
      // onUpdate replays the current identity first, then every rotation.
      unsubscribe = source.onUpdate((identity) => {
        if (!call.cancelled) call.write(identityUpdateOf(identity));
      });
    },
  });

  server.addService(protos.healthService, health.implementation);

  let address: string;
  if (options.host !== undefined) {
    const port = await bind(server, `${hostForUri(options.host)}:${options.port ?? 0}`);
    address = `${hostForUri(options.host)}:${port}`;
  } else {
    const socketPath =
      options.socketPath ??
      join(tmpdir(), `certbound-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    await removeStaleSocket(socketPath);
    address = `unix:${socketPath}`;
    await bind(server, address);
    // Only the workload's user may ask for tokens.
    await chmod(socketPath, 0o600);
  }

  let closing: Promise<void> | undefined;
  return {
    address,
    health,
    close() {
      closing ??= new Promise<void>((resolve) => {
        health.close();
        for (const call of watches) call.end();
        watches.clear();
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}

function tokenRequestOf(request: GetTokenRequest): TokenRequest {
  return {
    ...(request.audience ? { audience: request.audience } : {}),
    ...(request.resource ? { resource: request.resource } : {}),
    ...(request.scope ? { scope: request.scope } : {}),
  };
}

/** What `WatchIdentity` sends: public material only, never the key. */
export function identityUpdateOf(identity: WorkloadIdentity): IdentityUpdate {
  return {
    cert_chain_pem: identity.chainPem,
    bundle_pem: identity.bundlePem,
    thumbprint: identity.thumbprint,
    spiffe_id: identity.spiffeId ?? '',
    not_after: Math.floor(identity.notAfter.getTime() / 1000),
  };
}

function hostForUri(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(listenerError('local API', address, err));
      else resolve(port);
    });
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const stat = await lstat(path);
    if (!stat.isSocket()) throw new TypeError(`${path} exists and is not a socket`);
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
