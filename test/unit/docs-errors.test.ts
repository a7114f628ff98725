import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_TABLE, type ErrorCode } from '../../src/errors.js';
import { REPO_ROOT } from '../support/deploy-manifests.js';

const DOCS = join(REPO_ROOT, 'docs');
/** Placeholders such as `<ERR_CODE>` are not codes. */
const errorsMd = readFileSync(join(DOCS, 'errors.md'), 'utf8');

/** Node.js's own error codes that docs may mention (they are not certbound's). */
const NODE_PREFIXES = [
  'ERR_TLS_',
  'ERR_SSL_',
  'ERR_OSSL_',
  'ERR_HTTP_',
  'ERR_HTTP2_',
  'ERR_PARSE_ARGS_',
  'ERR_STREAM_',
  'ERR_SOCKET_',
];

/** Rows of the summary table: code → [http, bearer, grpc]. */
function tableRows(md: string): Map<string, { http: number; bearer: string | null; grpc: number }> {
  const rows = new Map<string, { http: number; bearer: string | null; grpc: number }>();
  for (const line of md.split('\n')) {
    const m =
      /^\|\s*\[?`(ERR_[A-Z0-9_]+)`\]?(?:\([^)]*\))?\s*\|\s*(\d{3})\s*\|\s*([^|]+?)\s*\|\s*(\d+)\b[^|]*\|\s*$/.exec(
        line,
      );
    if (m === null) continue;
    if (rows.has(m[1] as string)) throw new Error(`${m[1] as string} has two rows`);
    const bearer = (m[3] as string).replace(/`/g, '');
    rows.set(m[1] as string, {
      http: Number(m[2]),
      bearer: bearer === '—' ? null : bearer,
      grpc: Number(m[4]),
    });
  }
  return rows;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(dir, f));
}

describe('docs/errors.md matches ERROR_TABLE', () => {
  const rows = tableRows(errorsMd);

  it('has one table row per code with the same HTTP status, RFC 6750 error and gRPC status', () => {
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const m = ERROR_TABLE[code];
      expect(rows.get(code), code).toEqual({ http: m.http, bearer: m.bearer, grpc: m.grpc });
    }
  });

  it('explains the cause and the fix of every code in its own section', () => {
    const sections = errorsMd.split(/^### /m).slice(1);
    const byCode = new Map(sections.map((s) => [/^`(ERR_[A-Z0-9_]+)`/.exec(s)?.[1], s]));
    for (const code of ERROR_CODES) {
      const section = byCode.get(code);
      expect(section, `section for ${code}`).toBeDefined();
      expect(section, code).toMatch(/\*\*Cause:\*\*/);
      expect(section, code).toMatch(/\*\*Fix:\*\*/);
    }
  });

  it('every ERR_* code mentioned anywhere in docs/ exists in ERROR_TABLE', () => {
    const unknown: string[] = [];
    for (const file of markdownFiles(DOCS)) {
      for (const [code] of readFileSync(file, 'utf8').matchAll(
        /(?<![<\w])ERR_[A-Z0-9_]*[A-Z0-9]\b/g,
      )) {
        if (NODE_PREFIXES.some((p) => code.startsWith(p))) continue;
        if (!(code in ERROR_TABLE)) unknown.push(`${file.slice(REPO_ROOT.length + 1)}: ${code}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('the row parser rejects a wrong number (the check can fail)', () => {
    const code: ErrorCode = 'ERR_BINDING_MISMATCH';
    const broken = errorsMd.replace(
      new RegExp(`(\\[\`${code}\`\\]\\(#[a-z_]+\\) \\| )401`),
      '$1403',
    );
    expect(broken).not.toBe(errorsMd);
    expect(tableRows(broken).get(code)?.http).toBe(403);
  });
});
