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

/**
 * Loads `.proto` files of the package's `proto/` folder (paths relative to it) and returns the
 * named services, with the loader options above.
 *
 * @throws Error when a named service is not in the files
 */
export function loadProtoServices<N extends string>(
  files: readonly string[],
  names: readonly N[],
): Record<N, ServiceDefinition> {
  const definition: PackageDefinition = loadSync([...files], LOAD_OPTIONS);
  const out = {} as Record<N, ServiceDefinition>;
  for (const name of names) {
    const found = definition[name];
    // Message and enum definitions carry `format`; services do not.
    if (found === undefined || 'format' in found) {
      throw new Error(`service ${name} missing from proto/`);
    }
    out[name] = found;
  }
  return out;
}

/** The gRPC services certbound defines or serves, loaded from `proto/`. */
export interface CertboundProtos {
  /** `certbound.v1.TokenService` */
  readonly tokenService: ServiceDefinition;
  /** `certbound.v1.IdentityService` */
  readonly identityService: ServiceDefinition;
  /** `grpc.health.v1.Health` */
  readonly healthService: ServiceDefinition;
}

let loaded: CertboundProtos | undefined;

/** Loads (once) and returns the service definitions of `proto/` (the demo's are in devstack). */
export function certboundProtos(): CertboundProtos {
  if (loaded !== undefined) return loaded;
  const services = loadProtoServices(
    ['certbound/v1/token.proto', 'grpc/health/v1/health.proto'],
    ['certbound.v1.TokenService', 'certbound.v1.IdentityService', 'grpc.health.v1.Health'],
  );
  loaded = {
    tokenService: services['certbound.v1.TokenService'],
    identityService: services['certbound.v1.IdentityService'],
    healthService: services['grpc.health.v1.Health'],
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
