import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/deploy-manifests.js';

/**
 * A consumer project compiled with tsc against the built declarations (`dist/`), the way an
 * installed package is seen: certbound copied into node_modules (so nothing resolves through
 * this repository's dev dependencies), its production dependencies beside it, and fastify
 * only where the fixture asks for it. The strictest settings a user may have: strict,
 * exactOptionalPropertyTypes, and skipLibCheck off, so our .d.ts files are checked too.
 */

const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
  },
  files: ['app.ts'],
};

const projects: string[] = [];
afterAll(() => {
  for (const p of projects) rmSync(p, { recursive: true, force: true });
});

function link(modules: string, name: string): void {
  const target = join(modules, name);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules', name), target);
}

/** Type-checks `source` as app.ts of a fresh consumer project; returns tsc's output and status. */
function typeCheck(
  source: string,
  options: { fastify: boolean },
): { code: number | null; out: string } {
  if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'index.d.ts')))
    throw new Error('dist/ is missing: build first (npm run build)');
  const dir = mkdtempSync(join(tmpdir(), 'certbound-types-'));
  projects.push(dir);
  const modules = join(dir, 'node_modules');
  const installed = join(modules, 'certbound');
  mkdirSync(installed, { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(installed, 'package.json'));
  cpSync(join(REPO_ROOT, 'dist', 'src'), join(installed, 'dist', 'src'), { recursive: true });
  for (const dep of [...Object.keys(PKG.dependencies), '@types/node', 'undici-types'])
    link(modules, dep);
  if (options.fastify) link(modules, 'fastify');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  writeFileSync(join(dir, 'app.ts'), source);
  const r = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('published types (dist/*.d.ts) as a consumer compiles them', () => {
  it('Fastify: request.certbound is the Principal, as the README shows (regression: not on FastifyRequest)', () => {
    const r = typeCheck(
      `import Fastify from 'fastify';
import { certboundFastify, certboundRewriteUrl } from 'certbound/http';
import type { Principal, Verifier } from 'certbound';

declare const verifier: Verifier;
const app = Fastify({ rewriteUrl: certboundRewriteUrl });
await app.register(certboundFastify, { verifier, policies: [{ prefix: '/admin', scopes: ['admin'] }] });
app.get('/', async (request) => {
  const principal: Principal | undefined = request.certbound;
  // @ts-expect-error a Principal, not any: a string is not one
  const wrong: string | undefined = request.certbound;
  void wrong;
  return { client: principal?.clientId ?? 'anonymous', spiffeId: principal?.spiffeId };
});
`,
      { fastify: true },
    );
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('every entry point compiles under exactOptionalPropertyTypes with skipLibCheck off, without fastify installed', () => {
    const r = typeCheck(
      `import { createServer } from 'node:https';
import { createVerifier, type CertboundError } from 'certbound';
import { certboundMiddleware, principalOf } from 'certbound/http';
import * as grpc from 'certbound/grpc';

const verifier = await createVerifier({
  issuer: 'https://as.example',
  audience: 'https://orders.example',
  jwks: { url: 'https://as.example/jwks' },
  algorithms: ['ES256'],
});
const guard = certboundMiddleware({ verifier, realm: 'orders' });
createServer({}, (req, res) => {
  guard(req, res, (err?: unknown) => {
    if (err !== undefined) return;
    res.end(principalOf(req)?.clientId ?? '');
  });
});
export type Code = CertboundError['code'];
export const grpcEntry = Object.keys(grpc).length;
`,
      { fastify: false },
    );
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('the check can fail: a misuse of the published types is an error', () => {
    const r = typeCheck(
      `import { createVerifier } from 'certbound';
// exactOptionalPropertyTypes: an optional option may be left out, not set to undefined.
await createVerifier({
  issuer: 'https://as.example',
  audience: 'https://orders.example',
  jwks: { url: 'https://as.example/jwks' },
  algorithms: undefined,
});
`,
      { fastify: false },
    );
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/error TS2379|exactOptionalPropertyTypes/);
  });
});
