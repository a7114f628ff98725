import { readFileSync } from 'node:fs';
import {
  credentials,
  status,
  makeClientConstructor,
  Metadata,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { demoProtos, type EchoRequest, type EchoResponse } from '../devstack/demo-protos.js';
import { runClosedLoop, type LoadCounters } from './closed-loop.js';
import type { LoadResult } from './load-result.js';

/** What the parent asks the gRPC load generator to do (JSON in argv[2]). */
export interface GrpcLoadSpec {
  /** `127.0.0.1:PORT` */
  target: string;
  certPath: string;
  keyPath: string;
  caPath: string;
  tokensPath: string;
  startIndex?: number;
  /** Unmeasured load first (JIT and connection warm-up of this fresh process). */
  warmupMs?: number;
  concurrency: number;
  durationMs: number;
}

interface EchoClient extends Client {
  Unary(
    req: EchoRequest,
    md: Metadata,
    cb: (err: ServiceError | null, res?: EchoResponse) => void,
  ): void;
}

/**
 * A separate-process gRPC load generator: one grpc-js channel over mTLS (client
 * certificate), `concurrency` unary call loops back to back until `durationMs` is over.
 */
async function run(spec: GrpcLoadSpec): Promise<LoadResult> {
  const tokens = readFileSync(spec.tokensPath, 'utf8')
    .split('\n')
    .filter((t) => t.length > 0);
  const Ctor = makeClientConstructor(demoProtos().echoService, 'demo.v1.Echo');
  const client = new Ctor(
    spec.target,
    credentials.createSsl(
      readFileSync(spec.caPath),
      readFileSync(spec.keyPath),
      readFileSync(spec.certPath),
    ),
    // The dev CA puts localhost in every SAN.
    { 'grpc.ssl_target_name_override': 'localhost' },
  ) as unknown as EchoClient;
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
  );
  let next = spec.startIndex ?? 0;
  const request: EchoRequest = { message: 'ping', count: 0 };
  const one = (c: LoadCounters): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const md = new Metadata();
      md.set('authorization', `Bearer ${tokens[next++ % tokens.length]!}`);
      client.Unary(request, md, (err) => {
        // A status from the server is an answer (like a non-2xx); UNAVAILABLE or
        // DEADLINE_EXCEEDED means no answer at all.
        if (err && (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED))
          c.errors++;
        else {
          if (err) c.non2xx++;
          c.answered(t0);
        }
        if (err) c.firstError ??= `${err.code}: ${err.details}`;
        resolve();
      });
    });
  const result = await runClosedLoop(spec, one, () => next);
  client.close();
  return result;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as GrpcLoadSpec;
process.stdout.write(`${JSON.stringify(await run(spec))}\n`);
