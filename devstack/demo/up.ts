import { relative } from 'node:path';
import type { DemoStack } from './demo-stack.js';
import { CLI_PATH } from './sidecar-child.js';
import type { Narrator } from './narrator.js';

/** Prints the endpoints of a running stack and `curl` commands to try it by hand. */
export function printEndpoints(stack: DemoStack, say: Narrator): void {
  const rel = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r.startsWith('..') ? p : r;
  };
  const c = stack.certs;
  const cli = `node ${rel(CLI_PATH)}`;
  const paymentsPort = stack.payments.inbound.split(':')[1] ?? '';
  const ordersPort = stack.orders.inbound.split(':')[1] ?? '';
  say.heading('endpoints (all on 127.0.0.1)');
  say.line(
    `  authorization server   ${stack.as.issuer}  (token: ${stack.as.mtlsTokenEndpoint}, jwks: ${stack.as.jwksUri})`,
  );
  say.line(
    `  payments  HTTP app     ${stack.payments.app.url}  (loopback only; reach it through its sidecar)`,
  );
  say.line(
    `            sidecar      pid ${stack.payments.sidecar.pid}, inbound https://${stack.payments.inbound}, outbound gRPC (h2c) ${stack.payments.outboundGrpc}, admin http://${stack.payments.admin}, token API ${stack.payments.tokenApi}`,
  );
  say.line(`  orders    gRPC app     ${stack.orders.app.url}  (demo.v1.Echo, h2c, loopback only)`);
  say.line(
    `            sidecar      pid ${stack.orders.sidecar.pid}, inbound https://${stack.orders.inbound}, outbound http://${stack.orders.outbound}, admin http://${stack.orders.admin}, token API ${stack.orders.tokenApi}`,
  );
  say.line(`  configs and logs       ${stack.dir}`);
  say.heading('try it');
  say.line(`  # orders' app calls payments through its sidecar (token and mTLS added for it):`);
  say.line(`  curl http://${stack.orders.outbound}/payments/pay?order=1`);
  say.line(
    `  # payments' app calls orders over gRPC through its sidecar (authority = upstream name; needs grpcurl):`,
  );
  say.line(
    `  grpcurl -plaintext -authority orders -import-path proto -proto demo/v1/echo.proto -d '{"message":"hi"}' ${stack.payments.outboundGrpc} demo.v1.Echo/Unary`,
  );
  say.line('');
  say.line(`  # a token bound to orders' certificate (what the sidecar uses):`);
  say.line(`  TOKEN=$(${cli} token --config ${stack.orders.configPath} --upstream payments)`);
  say.line(`  # with orders' certificate → 200; the app sees x-certbound-* identity headers:`);
  say.line(
    `  curl --cacert ${rel(c.bundle)} --cert ${rel(c.workloads.orders.cert)} --key ${rel(c.workloads.orders.key)} \\`,
  );
  say.line(`       -H "Authorization: Bearer $TOKEN" https://localhost:${paymentsPort}/pay`);
  say.line(`  # the same token from the attacker's certificate → 401 ERR_BINDING_MISMATCH:`);
  say.line(
    `  curl -i --cacert ${rel(c.bundle)} --cert ${rel(c.workloads.attacker.cert)} --key ${rel(c.workloads.attacker.key)} \\`,
  );
  say.line(`       -H "Authorization: Bearer $TOKEN" https://localhost:${paymentsPort}/pay`);
  say.line(`  # without a client certificate → TLS handshake refused:`);
  say.line(
    `  curl --cacert ${rel(c.bundle)} -H "Authorization: Bearer $TOKEN" https://localhost:${paymentsPort}/pay`,
  );
  say.line('');
  say.line(
    `  # orders' gRPC service expects payments' tokens (audience https://orders.demo.local):`,
  );
  say.line(
    `  ${cli} token --config ${stack.payments.configPath} --resource https://orders.demo.local --scope orders:read`,
  );
  say.line(
    `  #   then call demo.v1.Echo/Unary on localhost:${ordersPort} with certs/payments (e.g. grpcurl -cacert/-cert/-key, -H "authorization: Bearer …")`,
  );
  say.line('');
  say.line(`  # rotate orders' certificate while calls run (applied live, no restart):`);
  say.line(`  make rotate NAME=orders`);
  say.line(
    `  curl http://${stack.orders.admin}/readyz; curl -s http://${stack.orders.admin}/metrics | grep certbound_`,
  );
}
