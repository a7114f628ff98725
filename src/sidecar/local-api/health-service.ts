import {
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { ServingStatus } from '../../grpc/protos.js';

/** The `grpc.health.v1.Health` service with statuses set in code. */
export interface HealthService {
  /** Implementation to pass to `server.addService(certboundProtos().healthService, …)`. */
  readonly implementation: UntypedServiceImplementation;
  /** Sets the status of `service` (`''` is the whole server) and notifies watchers. */
  setStatus(service: string, status: ServingStatus): void;
  /** Ends every Watch stream (before shutting the server down). */
  close(): void;
}

interface HealthCheckRequest {
  service: string;
}

/**
 * Creates a health service (grpc/grpc doc/health-checking.md). `Check` of an unknown name
 * answers `NOT_FOUND`; `Watch` of one sends `SERVICE_UNKNOWN` and waits for it to appear.
 */
export function createHealthService(
  initial: Readonly<Record<string, ServingStatus>> = { '': 'SERVING' },
): HealthService {
  const statuses = new Map<string, ServingStatus>(Object.entries(initial));
  const watchers = new Set<{
    service: string;
    call: ServerWritableStream<HealthCheckRequest, unknown>;
  }>();

  const implementation: UntypedServiceImplementation = {
    Check(
      call: ServerUnaryCall<HealthCheckRequest, unknown>,
      callback: sendUnaryData<unknown>,
    ): void {
      const status = statuses.get(call.request.service);
      if (status === undefined) callback({ code: Status.NOT_FOUND, details: 'unknown service' });
      else callback(null, { status });
    },
    List(_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void {
      callback(null, {
        statuses: Object.fromEntries([...statuses].map(([name, status]) => [name, { status }])),
      });
    },
    Watch(call: ServerWritableStream<HealthCheckRequest, unknown>): void {
      const watcher = { service: call.request.service, call };
      watchers.add(watcher);
      call.write({ status: statuses.get(watcher.service) ?? 'SERVICE_UNKNOWN' });
      const forget = (): void => {
        watchers.delete(watcher);
      };
      call.on('cancelled', forget);
      call.on('error', forget);
    },
  };

  return {
    implementation,
    setStatus(service, status) {
      if (statuses.get(service) === status) return;
      statuses.set(service, status);
      for (const w of watchers) if (w.service === service) w.call.write({ status });
    },
    close() {
      for (const w of watchers) w.call.end();
      watchers.clear();
    },
  };
}
