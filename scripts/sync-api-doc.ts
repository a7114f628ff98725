// Rewrites the export lists of docs/api.md from the entry points: one line per export with
// the first paragraph of its TSDoc. Run after changing exports: npx tsx scripts/sync-api-doc.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/support/cli.js';
import { publicApi, type PublicExport } from '../test/support/public-api.js';

const path = join(ROOT, 'docs', 'api.md');
const api = publicApi();
const lines = readFileSync(path, 'utf8').split('\n');
const out: string[] = [];
let section: keyof typeof api | undefined;

function lineOf(e: PublicExport): string {
  const text = e.summary.replace(/\{@link\s+([^}\s|]+)[^}]*\}/g, '`$1`');
  const sentence = /^(.+?\.)(\s|$)/.exec(text)?.[1] ?? text;
  const summary = sentence.length > 160 ? `${sentence.slice(0, 157)}…` : sentence;
  return `- \`${e.name}\`${e.kind === 'type' ? ' (type)' : ''} — ${summary}`;
}

function flush(): void {
  if (section === undefined) return;
  out.push('', ...api[section].map(lineOf), '');
  section = undefined;
}

for (const line of lines) {
  const heading = /^## `([^`]+)`/.exec(line);
  if (heading !== null) {
    flush();
    out.push(line);
    section = heading[1] as keyof typeof api;
    continue;
  }
  if (/^## /.test(line)) flush();
  // Inside an entry point's section only its list (rewritten by flush) and blank lines live.
  if (section !== undefined && (line.startsWith('- `') || line.trim() === '')) continue;
  flush();
  out.push(line);
}
flush();
writeFileSync(
  path,
  `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`,
);
