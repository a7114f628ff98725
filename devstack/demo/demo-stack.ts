import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCaDir } from '../../src/devca/dev-ca-store.js';
import { startAuthorizationServer, type DevAuthorizationServer } from '../authorization-server.js';
import type { DemoCerts } from './demo-certs.js';
import {
  ORDERS_RESOURCE,
  ORDERS_SCOPE,
  PAYMENTS_RESOURCE,
  PAYMENTS_SCOPE,
  ordersSidecarConfig,
  paymentsSidecarConfig,
  type DemoConfigInputs,
} from './demo-configs.js';
import { startOrdersApp, type OrdersApp } from './orders-app.js';
import { startPaymentsApp, type PaymentsApp } from './payments-app.js';
import { spawnSidecar, type SidecarChild } from './sidecar-child.js';
import type { Teardown } from './teardown.js';
import { waitReady } from './wait-ready.js';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

/** Options of {@link startDemoStack}. */
export interface DemoStackOptions {
  readonly certs: DemoCerts;
  /** Directory for generated configs, token API sockets and sidecar logs. */
  readonly dir: string;
  /**
   * First of ten consecutive fixed ports (AS, payments inbound/admin, orders
   * inbound/outbound/admin, payments app, orders app, payments outbound HTTP/gRPC).
   * Default: any free ports.
   */
  readonly portBase?: number;
  /** Receives the cleanup of everything started, also when the start fails halfway. */
  readonly teardown: Teardown;
  /** Called with a short line as each part comes up. */
  readonly progress?: (line: string) => void;
}

/** One demo service: its app, its sidecar process and where they listen. */
export interface DemoService<App> {
  readonly app: App;
  readonly sidecar: SidecarChild;
  readonly configPath: string;
  /** `127.0.0.1:PORT` of the sidecar's inbound mTLS listener. */
  readonly inbound: string;
  /** `127.0.0.1:PORT` of the sidecar's admin listener (`/readyz`, `/metrics`). */
  readonly admin: string;
  /** gRPC target of the sidecar's local token API. */
  readonly tokenApi: string;
}

/** The running demo: dev AS in this process, two apps, two sidecar processes. */
export interface DemoStack {
  readonly certs: DemoCerts;
  readonly dir: string;
  readonly as: DevAuthorizationServer;
  readonly payments: DemoService<PaymentsApp> & {
    /** payments' outbound gRPC listener (h2c): calls with authority `orders` go to orders. */
    readonly outboundGrpc: string;
  };
  /** orders also has an outbound proxy (`127.0.0.1:PORT`) with the upstream `payments`. */
  readonly orders: DemoService<OrdersApp> & { readonly outbound: string };
  /** Token requests the AS has answered (both token endpoints). */
  tokensFetched(): number;
}

/** A port that was free a moment ago (bind to 0, read it, release it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`sidecar start line has no ${what} address`);
  return value;
}

/**
 * Starts the embedded stack on 127.0.0.1: the dev authorization server (oidc-provider,
 * `tls_client_auth`, certificate-bound ES256 JWTs), the payments HTTP app and the orders
 * gRPC app, and one `certbound run` process per app from the built CLI; resolves when
 * both sidecars answer `/readyz` with 200.
 */
export async function startDemoStack(options: DemoStackOptions): Promise<DemoStack> {
  const { certs, dir, teardown } = options;
  const progress = options.progress ?? (() => undefined);
  const base = options.portBase;
  const at = (offset: number): number => (base === undefined ? 0 : base + offset);

  const [ca, bundlePem] = await Promise.all([readCaDir(certs.dir), readFile(certs.bundle, 'utf8')]);
  const as = await startAuthorizationServer({
    ca,
    bundlePem,
    port: at(0),
    clients: [
      { clientId: 'orders', spiffeId: certs.workloads.orders.spiffeId },
      { clientId: 'payments', spiffeId: certs.workloads.payments.spiffeId },
    ],
    resources: [
      { indicator: PAYMENTS_RESOURCE, scopes: ['payments:read', PAYMENTS_SCOPE] },
      { indicator: ORDERS_RESOURCE, scopes: [ORDERS_SCOPE] },
    ],
  });
  teardown.add('authorization server', () => as.close());
  progress(`authorization server  ${as.issuer}`);

  const [paymentsApp, ordersApp] = await Promise.all([
    startPaymentsApp(at(6)),
    startOrdersApp(at(7)),
  ]);
  teardown.add('payments app', () => paymentsApp.close());
  teardown.add('orders app', () => ordersApp.close());

  // Each sidecar names the other's inbound listener as an upstream: orders' port is
  // chosen before either starts (payments' is read from its start line).
  const ordersInboundPort = base === undefined ? await freePort() : at(3);
  const inputs: DemoConfigInputs = {
    certs,
    issuer: as.issuer,
    jwksUri: as.jwksUri,
    dir,
    ports: {
      paymentsInbound: at(1),
      paymentsAdmin: at(2),
      paymentsOutbound: at(8),
      paymentsOutboundGrpc: at(9),
      ordersInbound: ordersInboundPort,
      ordersOutbound: at(4),
      ordersAdmin: at(5),
    },
  };

  const paymentsConfig = join(dir, 'payments.yaml');
  await writeFile(
    paymentsConfig,
    paymentsSidecarConfig(inputs, paymentsApp.url, `127.0.0.1:${ordersInboundPort}`),
  );
  const paymentsSidecar = await spawnSidecar({
    name: 'payments',
    configPath: paymentsConfig,
    logPath: join(dir, 'payments.log'),
  });
  teardown.add('payments sidecar', () => paymentsSidecar.stop());
  const paymentsInbound = required(paymentsSidecar.addresses.inbound, 'inbound');
  progress(`payments sidecar      pid ${paymentsSidecar.pid}`);

  // orders' outbound upstream is payments' inbound listener, known only now.
  const ordersConfig = join(dir, 'orders.yaml');
  await writeFile(ordersConfig, ordersSidecarConfig(inputs, ordersApp.url, paymentsInbound));
  const ordersSidecar = await spawnSidecar({
    name: 'orders',
    configPath: ordersConfig,
    logPath: join(dir, 'orders.log'),
  });
  teardown.add('orders sidecar', () => ordersSidecar.stop());
  progress(`orders sidecar        pid ${ordersSidecar.pid}`);

  const paymentsAdmin = required(paymentsSidecar.addresses.admin, 'admin');
  const ordersAdmin = required(ordersSidecar.addresses.admin, 'admin');
  await Promise.all([
    waitReady('payments', paymentsAdmin, { gone: () => paymentsSidecar.exited() }),
    waitReady('orders', ordersAdmin, { gone: () => ordersSidecar.exited() }),
  ]);

  return {
    certs,
    dir,
    as,
    payments: {
      app: paymentsApp,
      sidecar: paymentsSidecar,
      configPath: paymentsConfig,
      inbound: paymentsInbound,
      outboundGrpc: required(paymentsSidecar.addresses.outboundGrpc, 'outbound gRPC'),
      admin: paymentsAdmin,
      tokenApi: required(paymentsSidecar.addresses.localApi, 'localApi'),
    },
    orders: {
      app: ordersApp,
      sidecar: ordersSidecar,
      configPath: ordersConfig,
      inbound: required(ordersSidecar.addresses.inbound, 'inbound'),
      outbound: required(ordersSidecar.addresses.outbound, 'outbound'),
      admin: ordersAdmin,
      tokenApi: required(ordersSidecar.addresses.localApi, 'localApi'),
    },
    tokensFetched: () => as.requestCounts.token + as.requestCounts.mtlsToken,
  };
}
