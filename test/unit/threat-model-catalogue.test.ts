import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { ROOT } from '../support/cli.js';

/** One row of the attack catalogue in docs/threat-model.md. */
interface CatalogueRow {
  line: number;
  id: string;
  attack: string;
  transport: string;
  expected: string;
  file: string;
  title: string;
}

const DOC = join(ROOT, 'docs', 'threat-model.md');

/**
 * Parses the `## Attack catalogue` table: `| id | attack | transport | expected | \`file\` | \`title\` |`.
 * Titles and labels never contain `|`, so splitting on it is exact.
 */
function parseCatalogue(markdown: string): CatalogueRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === '## Attack catalogue');
  if (start === -1) throw new Error('docs/threat-model.md has no "## Attack catalogue" section');
  const rows: CatalogueRow[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|') || /^\|\s*(id|-+)\s*\|/.test(line)) continue;
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
    if (cells.length !== 6) throw new Error(`line ${i + 1}: expected 6 cells, got ${cells.length}`);
    const [id, attack, transport, expected, file, title] = cells as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const unquote = (cell: string, what: string): string => {
      const m = /^`([^`]+)`$/.exec(cell);
      if (m === null) throw new Error(`line ${i + 1}: ${what} must be in backticks, got ${cell}`);
      return m[1]!;
    };
    rows.push({
      line: i + 1,
      id,
      attack,
      transport,
      expected,
      file: unquote(file, 'test file'),
      title: unquote(title, 'test title'),
    });
  }
  return rows;
}

const rows = parseCatalogue(readFileSync(DOC, 'utf8'));

describe('docs/threat-model.md attack catalogue stays in step with the tests', () => {
  it('has at least 30 cases with unique ids A01…, spanning HTTP and gRPC', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    for (const row of rows) expect(row.id, `line ${row.line}`).toMatch(/^A\d{2,3}$/);
    const ids = rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const transports = rows.map((r) => r.transport);
    expect(transports.filter((t) => /\bHTTP\b/.test(t)).length).toBeGreaterThanOrEqual(10);
    expect(transports.filter((t) => /\bgRPC\b/.test(t)).length).toBeGreaterThanOrEqual(10);
    for (const row of rows) expect(row.attack.length, `line ${row.line}`).toBeGreaterThan(3);
  });

  it('every error code named as an expected result exists in src/errors.ts', () => {
    for (const row of rows) {
      for (const code of row.expected.match(/\bERR_[A-Z0-9_]+/g) ?? [])
        expect(ERROR_CODES, `${row.id} (line ${row.line})`).toContain(code);
    }
  });

  it.each(rows.map((r) => [r.id, r] as const))(
    '%s points at an existing test file that contains the cited test title',
    (_id, row) => {
      expect(row.file, `${row.id}: test file path`).toMatch(/^test\/.+\.test\.ts$/);
      const path = join(ROOT, row.file);
      expect(existsSync(path), `${row.id}: ${row.file} does not exist`).toBe(true);
      const source = readFileSync(path, 'utf8');
      expect(source.includes(row.title), `${row.id}: "${row.title}" is not in ${row.file}`).toBe(
        true,
      );
    },
  );

  it('the parser refuses a row that points at a missing test (the check above can fail)', () => {
    const broken = [
      '## Attack catalogue',
      '| id | attack | transport | expected | test file | test title |',
      '|---|---|---|---|---|---|',
      '| A01 | x | HTTP | 401 | `test/unit/nope.test.ts` | `no such test` |',
    ].join('\n');
    const [row] = parseCatalogue(broken);
    expect(row?.file).toBe('test/unit/nope.test.ts');
    expect(existsSync(join(ROOT, row!.file))).toBe(false);
    expect(() => parseCatalogue(broken.replace('`no such test`', 'no backticks'))).toThrow(
      /backticks/,
    );
  });
});
