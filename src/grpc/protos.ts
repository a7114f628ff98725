import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The `proto/` directory of the certbound package (works from `src/` and from `dist/src/`). */
const PROTO_DIR: string = findProtoDir(dirname(fileURLToPath(import.meta.url)));

function findProtoDir(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'certbound', 'v1', 'token.proto'))) return candidate;
    if (dirname(dir) === dir) {
      throw new Error(`certbound proto/ directory not found above ${start}`);
    }
  }
}

/**
 * proto-loader options: field names as written in the .proto files (snake_case, which the
 * message interfaces below mirror), int64 as JS numbers, defaults filled in.
 */
const LOAD_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** The gRPC services certbound defines or serves, loaded from `proto/`. */
export interface CertboundProtos {
  /** `certbound.v1.TokenService` */
  readonly tokenService: ServiceDefinition;
  /** `certbound.v1.IdentityService` */
  readonly identityService: ServiceDefinition;
  /** `grpc.health.v1.Health` */
  readonly healthService: ServiceDefinition;
  /** `demo.v1.Echo` */
  readonly echoService: ServiceDefinition;
}

let loaded: CertboundProtos | undefined;

/** Loads (once) and returns the service definitions of `proto/`. */
export function certboundProtos(): CertboundProtos {
  if (loaded !== undefined) return loaded;
  const definition: PackageDefinition = loadSync(
    ['certbound/v1/token.proto', 'grpc/health/v1/health.proto', 'demo/v1/echo.proto'],
    LOAD_OPTIONS,
  );
  const service = (name: string): ServiceDefinition => {
    const found = definition[name];
    // Message and enum definitions carry `format`; services do not.
    if (found === undefined || 'format' in found) {
      throw new Error(`service ${name} missing from proto/`);
    }
    return found;
  };
  loaded = {
    tokenService: service('certbound.v1.TokenService'),
    identityService: service('certbound.v1.IdentityService'),
    healthService: service('grpc.health.v1.Health'),
    echoService: service('demo.v1.Echo'),
  };
  return loaded;
}

/** `certbound.v1.GetTokenRequest` */
export interface GetTokenRequest {
  audience: string;
  resource: string;
  scope: string;
}

/** `certbound.v1.GetTokenResponse` */
export interface GetTokenResponse {
  access_token: string;
  token_type: string;
  /** Seconds since the Unix epoch. */
  expires_at: number;
  cnf_thumbprint: string;
}

/** `certbound.v1.IdentityUpdate` (never the private key). */
export interface IdentityUpdate {
  cert_chain_pem: string;
  bundle_pem: string;
  thumbprint: string;
  spiffe_id: string;
  /** Seconds since the Unix epoch. */
  not_after: number;
}

/** `grpc.health.v1.HealthCheckResponse.ServingStatus` */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** `demo.v1.EchoRequest` */
export interface EchoRequest {
  message: string;
  count: number;
}

/** `demo.v1.EchoResponse` */
export interface EchoResponse {
  message: string;
  client_id: string;
  spiffe_id: string;
  index: number;
}
