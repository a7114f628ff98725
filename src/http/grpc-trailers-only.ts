import type { Http2ServerResponse } from 'node:http2';
import { writeGrpcStatus } from '../grpc-trailers-only.js';

export { writeGrpcError } from '../grpc-trailers-only.js';

/** Answers `UNIMPLEMENTED` (12): no gRPC handler is installed in this listener. */
export function writeGrpcUnimplemented(res: Http2ServerResponse): void {
  writeGrpcStatus(res, 12, 'gRPC forwarding is not enabled in this sidecar');
}
