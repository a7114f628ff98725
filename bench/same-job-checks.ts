import { readFileSync } from 'node:fs';
import { credentials, makeClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { demoProtos } from '../devstack/demo-protos.js';
import type { BenchEnv } from './bench-env.js';

/** What one endpoint answered to a valid bound token and to a token bound to another cert. */
export interface CheckResult {
  name: string;
  valid: number;
  stolen: number;
  /** True when the valid token passed and, for a checking endpoint, the stolen one was refused. */
  ok: boolean;
}

const firstLine = (path: string): string => readFileSync(path, 'utf8').split('\n')[0]!;

/**
 * Checks, before measuring, that every HTTPS endpoint answers 200 to the bound token and
 * that the checking ones (certbound, HAProxy) refuse a token stolen from another valid
 * certificate with 401 — so the benchmark compares peers doing the same job.
 */
export async function checkHttp(
  env: BenchEnv,
  endpoints: ReadonlyArray<{ name: string; url: string; checks: boolean }>,
): Promise<CheckResult[]> {
  const agent = new Agent({
    connect: {
      cert: readFileSync(env.client.certPath),
      key: readFileSync(env.client.keyPath),
      ca: readFileSync(env.caPath),
      servername: 'localhost',
    },
  });
  const status = async (url: string, token: string): Promise<number> => {
    const res = await request(url, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body.dump();
    return res.statusCode;
  };
  try {
    const out: CheckResult[] = [];
    for (const e of endpoints) {
      const valid = await status(e.url, firstLine(env.tokens.reused));
      const stolen = await status(e.url, firstLine(env.tokens.stolen));
      out.push({ name: e.name, valid, stolen, ok: valid === 200 && (!e.checks || stolen === 401) });
    }
    return out;
  } finally {
    await agent.close();
  }
}

/** The gRPC counterpart of {@link checkHttp}: status 0 for the bound token, 16 for the stolen one. */
export async function checkGrpc(
  env: BenchEnv,
  endpoints: ReadonlyArray<{ name: string; target: string; checks: boolean }>,
): Promise<CheckResult[]> {
  const Ctor = makeClientConstructor(demoProtos().echoService, 'demo.v1.Echo');
  const out: CheckResult[] = [];
  for (const e of endpoints) {
    const client = new Ctor(
      e.target,
      credentials.createSsl(
        readFileSync(env.caPath),
        readFileSync(env.client.keyPath),
        readFileSync(env.client.certPath),
      ),
      { 'grpc.ssl_target_name_override': 'localhost' },
    );
    const call = (token: string): Promise<number> =>
      new Promise((resolve) => {
        const md = new Metadata();
        md.set('authorization', `Bearer ${token}`);
        (
          client as unknown as {
            Unary(r: object, m: Metadata, o: object, cb: (err: ServiceError | null) => void): void;
          }
        ).Unary({ message: 'check', count: 0 }, md, { deadline: Date.now() + 10_000 }, (err) =>
          resolve(err ? err.code : 0),
        );
      });
    const valid = await call(firstLine(env.tokens.reused));
    const stolen = await call(firstLine(env.tokens.stolen));
    client.close();
    out.push({ name: e.name, valid, stolen, ok: valid === 0 && (!e.checks || stolen === 16) });
  }
  return out;
}
