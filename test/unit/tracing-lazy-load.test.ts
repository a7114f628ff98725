import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

// Issue 18: with tracing off no OpenTelemetry package is loaded (start-up and memory do not
// pay for it): only type imports are static; the SDK lives in otlp-tracing.ts, which only a
// dynamic import() reaches.
const STATIC_OTEL = /(?:^|\n)\s*import\s(?!type\s)[^;]*?from\s+['"]@opentelemetry\/[^'"]+['"]/;

const files = readdirSync(join(ROOT, 'src'), { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts'))
  .map((e) => join(e.parentPath, e.name));

describe('the OpenTelemetry SDK is loaded lazily', () => {
  it('only src/observability/otlp-tracing.ts imports @opentelemetry packages statically', () => {
    const importers = files
      .filter((f) => STATIC_OTEL.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(importers).toEqual(['src/observability/otlp-tracing.ts']);
  });

  it('otlp-tracing.ts is reached by a dynamic import() only', () => {
    const staticImporters = files.filter((f) =>
      /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"][./]+[^'"]*otlp-tracing\.js['"]/.test(
        readFileSync(f, 'utf8'),
      ),
    );
    expect(staticImporters.map((f) => relative(ROOT, f))).toEqual([]);
    const dynamic = files.filter((f) =>
      /import\(\s*['"]\.\/otlp-tracing\.js['"]\s*\)/.test(readFileSync(f, 'utf8')),
    );
    expect(dynamic.map((f) => relative(ROOT, f))).toEqual(['src/observability/tracing.ts']);
  });
});
