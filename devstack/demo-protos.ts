import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadProtoServices } from '../src/grpc/protos.js';

/**
 * The demo's `demo.v1.Echo` service (`proto/demo/v1/echo.proto`): one method per call kind,
 * for the demo stack, the tests and the benches. Not part of the package: the file is not
 * shipped (package.json "files" lists only proto/certbound and proto/grpc).
 */
export interface DemoProtos {
  /** `demo.v1.Echo` */
  readonly echoService: ServiceDefinition;
}

let loaded: DemoProtos | undefined;

/** Loads (once) and returns the demo service definitions. */
export function demoProtos(): DemoProtos {
  loaded ??= {
    echoService: loadProtoServices(['demo/v1/echo.proto'], ['demo.v1.Echo'])['demo.v1.Echo'],
  };
  return loaded;
}

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
