import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { ENTRY_POINTS, publicApi } from '../support/public-api.js';

/** `## \`entry\`` sections of docs/api.md → the export names listed under each. */
function documented(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let section: string | undefined;
  for (const line of readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8').split('\n')) {
    const heading = /^## `([^`]+)`/.exec(line);
    if (heading) section = heading[1];
    const item = /^- `([^`]+)`/.exec(line);
    if (item && section !== undefined) (out[section] ??= []).push(item[1] as string);
  }
  return out;
}

describe('docs/api.md lists the public surface, one line per export', () => {
  const api = publicApi();
  const doc = documented();

  it.each(Object.keys(ENTRY_POINTS))('%s: the page and the entry point agree', (entry) => {
    const names = api[entry as keyof typeof ENTRY_POINTS].map((e) => e.name);
    expect(names.length).toBeGreaterThan(5);
    expect([...(doc[entry] ?? [])].sort()).toEqual([...names].sort());
  });

  it('every export has a TSDoc summary', () => {
    const missing = Object.entries(api).flatMap(([entry, list]) =>
      list.filter((e) => e.summary.length === 0).map((e) => `${entry}: ${e.name}`),
    );
    expect(missing).toEqual([]);
  });

  it('no entry point re-exports with `export *` (a curated list only)', () => {
    for (const file of Object.values(ENTRY_POINTS))
      expect(readFileSync(join(ROOT, file), 'utf8')).not.toMatch(/export \*/);
  });

  it('dev-CA internals, file helpers, demo protos and sidecar internals are not exported', () => {
    const all = Object.values(api).flatMap((l) => l.map((e) => e.name));
    for (const internal of [
      'createDevCa',
      'issueCertificate',
      'initCaDir',
      'writeFileAtomic',
      'certboundProtos',
      'EchoRequest',
      'createInboundProxy',
      'startInboundListener',
      'createGrpcForwarder',
      'startLocalApi',
      'startAdminServer',
    ])
      expect(all).not.toContain(internal);
  });
});
