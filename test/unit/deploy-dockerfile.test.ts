import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { at, containersOf, readManifests, REPO_ROOT } from '../support/deploy-manifests.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: (op as string).toUpperCase(), args: rest.join(' ') };
    });
}

/** Instructions of each stage, by stage index. */
function stagesOf(instructions: Instruction[]): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const i of instructions) {
    if (i.op === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push(i);
  }
  return stages;
}

/** True when `.dockerignore` (allow-list form: `*` then `!path`) lets `path` into the context. */
function allowedByDockerignore(rules: string[], path: string): boolean {
  let allowed = true;
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const pattern = (negate ? rule.slice(1) : rule).replace(/\/$/, '');
    const matches = pattern === '*' || path === pattern || path.startsWith(`${pattern}/`);
    if (matches) allowed = negate;
  }
  return allowed;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const stages = stagesOf(instructions);
const runtime = stages[stages.length - 1] ?? [];
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  bin: Record<string, string>;
  repository: { url: string };
};
const [deployment] = readManifests(
  join(REPO_ROOT, 'deploy', 'kubernetes', 'base', 'deployment.yaml'),
);
const podSpec = at(deployment?.object, 'spec', 'template', 'spec');
const sidecar = containersOf(podSpec).find((c) => c['name'] === 'certbound');
const stageNamed = (name: string): Instruction[] =>
  stages.find((s) => new RegExp(`\\sAS ${name}$`, 'i').test(s[0]?.args ?? '')) ?? [];
/** LABEL key="value" pairs of the runtime stage, ARG defaults substituted. */
function labelsOf(stage: Instruction[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const i of instructions.filter((x) => x.op === 'ARG')) {
    const [k, v] = i.args.split('=');
    if (v !== undefined) args.set(k as string, v);
  }
  const out = new Map<string, string>();
  for (const i of stage.filter((x) => x.op === 'LABEL'))
    for (const [, k, v] of i.args.matchAll(/([\w.-]+)="([^"]*)"/g))
      out.set(
        k as string,
        (v as string).replace(/\$\{(\w+)\}/g, (_, a: string) => args.get(a) ?? `\${${a}}`),
      );
  return out;
}

describe('deploy/docker/Dockerfile', () => {
  it('is multi-stage: a build stage, then a runtime stage copying from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]?.[0]?.args).toMatch(/\sAS build$/i);
    expect(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from='))).toBe(true);
    expect(stages[0]?.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args))).toBe(true);
    expect(stages[0]?.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
  });

  it('runs on the Node 24 LTS slim image, pinned by digest or with the documented way to pin it', () => {
    const arg = instructions.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    const image = arg?.args.slice('NODE_IMAGE='.length) ?? '';
    expect(image).toMatch(/^node:24(\.\d+)*-(bookworm-|trixie-)?slim(@sha256:[0-9a-f]{64})?$/);
    // Every stage starts from the same (pinnable) base.
    for (const stage of stages) expect(stage[0]?.args).toMatch(/^\$\{NODE_IMAGE\}( AS \w+)?$/);
    if (!image.includes('@sha256:')) {
      // Tag only: the comment must say how to resolve and pass the digest.
      expect(dockerfile).toMatch(/docker buildx imagetools inspect node:24/);
      expect(dockerfile).toMatch(/--build-arg NODE_IMAGE=node:24[^\s]*@sha256:<digest>/);
    }
  });

  it('runs no npm in the runtime stage and removes the package managers from it', () => {
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    // Any npm/npx word other than the paths being deleted is a run of npm.
    const invocations = runs.filter((r) =>
      /\bnp[mx]\b/.test(r.replace(/\/usr\/local\/(bin\/np[mx]|lib\/node_modules)\b/g, '')),
    );
    expect(invocations).toEqual([]);
    const cleanup = runs.join(' ');
    for (const path of ['/usr/local/lib/node_modules', '/usr/local/bin/npm', '/usr/local/bin/npx'])
      expect(cleanup, path).toContain(path);
    expect(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build '))).toBe(false);
  });

  it('PID 1 is tini, which forwards signals to certbound and reaps children', () => {
    const entry = runtime.filter((i) => i.op === 'ENTRYPOINT').pop();
    expect((JSON.parse(entry?.args ?? '[]') as string[]).slice(0, 2)).toEqual([
      '/usr/bin/tini',
      '--',
    ]);
    expect(runtime.some((i) => i.op === 'RUN' && /apt-get install .*\btini\b/.test(i.args))).toBe(
      true,
    );
  });

  it('carries the OCI labels, agreeing with package.json', () => {
    const labels = labelsOf(runtime);
    for (const key of [
      'title',
      'description',
      'version',
      'revision',
      'created',
      'licenses',
      'source',
      'base.name',
    ])
      expect(labels.has(`org.opencontainers.image.${key}`), key).toBe(true);
    expect(labels.get('org.opencontainers.image.version')).toBe(pkg.version);
    expect(labels.get('org.opencontainers.image.licenses')).toBe(pkg.license);
    expect(pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')).toBe(
      labels.get('org.opencontainers.image.source'),
    );
  });

  it('installs production dependencies only, from the lockfile', () => {
    const runs = stageNamed('deps')
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args);
    expect(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=deps '))).toBe(true);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && /--omit=dev\b/.test(r))).toBe(true);
    expect(runs.some((r) => /npm (install|i)\b(?!.*--omit=dev)/.test(r))).toBe(false);
  });

  it('runs as the non-root user the pod spec expects', () => {
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const last = users[users.length - 1] as string;
    expect(last).not.toMatch(/^(root|0)(:|$)/);
    const [uid, gid] = last.split(':');
    expect(Number(uid)).toBe(at(podSpec, 'securityContext', 'runAsUser'));
    expect(Number(gid)).toBe(at(podSpec, 'securityContext', 'runAsGroup'));
  });

  it('ENTRYPOINT runs ["certbound","run"] through a bin link to package.json "bin"', () => {
    const entry = runtime.filter((i) => i.op === 'ENTRYPOINT').pop();
    expect((JSON.parse(entry?.args ?? '[]') as string[]).slice(-2)).toEqual(['certbound', 'run']);
    const link = `ln -s /app/${pkg.bin['certbound'] as string} /usr/local/bin/certbound`;
    expect(
      runtime.some((i) => i.op === 'RUN' && i.args.includes(link)),
      link,
    ).toBe(true);
  });

  it('CMD matches the Kubernetes args, and EXPOSE the container ports', () => {
    const cmd = runtime.filter((i) => i.op === 'CMD').pop();
    expect(JSON.parse(cmd?.args ?? 'null')).toEqual(sidecar?.['args']);
    const exposed = runtime
      .filter((i) => i.op === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/).map(Number));
    const ports = (sidecar?.['ports'] as Array<{ containerPort: number }>).map(
      (p) => p.containerPort,
    );
    expect(exposed.sort()).toEqual(ports.sort());
  });

  it('.dockerignore admits what the Dockerfile copies and keeps keys and certificates out', () => {
    const rules = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    const sources = instructions
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources)
      expect(allowedByDockerignore(rules, s.replace(/^\.\//, '')), s).toBe(true);
    for (const secret of [
      'certs/ca/key.pem',
      'certs/orders/key.pem',
      '.tmp/x',
      'node_modules/x',
      'dist/src/x',
      '.env',
    ])
      expect(allowedByDockerignore(rules, secret), secret).toBe(false);
  });
});
