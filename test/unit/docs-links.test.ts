import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/deploy-manifests.js';

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes, duplicates numbered. */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const h = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h === null) continue;
    const base = (h[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Relative links `[text](target)` outside code fences and code spans. */
function linksOf(md: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    for (const [, target] of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!/^[a-z]+:/i.test(target as string)) out.push(target as string);
    }
  }
  return out;
}

const FILES = [
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(REPO_ROOT, 'docs', f)),
  join(REPO_ROOT, 'deploy', 'README.md'),
];

describe('links in docs/ and deploy/README.md', () => {
  it('the operator docs exist', () => {
    for (const f of ['operations.md', 'errors.md', 'architecture.md'])
      expect(existsSync(join(REPO_ROOT, 'docs', f)), f).toBe(true);
  });

  it.each(FILES.map((f) => [relative(REPO_ROOT, f), f]))(
    '%s: every relative link and anchor resolves',
    (_, file) => {
      const md = readFileSync(file, 'utf8');
      const broken: string[] = [];
      for (const link of linksOf(md)) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? file : resolve(dirname(file), path);
        if (!existsSync(target)) {
          broken.push(link);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && statSync(target).isFile()) {
          if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor)) broken.push(link);
        }
      }
      expect(broken).toEqual([]);
    },
  );

  it('computes GitHub anchors (the check can fail)', () => {
    const anchors = anchorsOf('# A `b`, then c\n## Same\n## Same\n```\n# not a heading\n```');
    expect([...anchors]).toEqual(['a-b-then-c', 'same', 'same-1']);
    expect(linksOf('see [x](a.md#b) and `[y](z.md)` and [w](https://e.com)')).toEqual(['a.md#b']);
  });
});
