// Build step (npm run build, after tsc): bundles the compiled CLI and its dependencies into
// dist/certbound.mjs (the `certbound` command of the package and the image) plus
// dist/chunks/ for what only some configurations load. Node otherwise resolves, reads and
// compiles ≈ 170 modules of dist/src plus the dependencies' files one by one; from the
// bundle the sidecar reaches /readyz ≈ 45 % sooner with ≈ 15 % less memory (bench/README.md).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/scripts/: the package root is two levels up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Chunk names carry a content hash: the chunks of an earlier build must not be packed too.
rmSync(join(root, 'dist', 'chunks'), { recursive: true, force: true });

await build({
  entryPoints: { certbound: join(root, 'dist', 'src', 'cli', 'main.js') },
  outdir: join(root, 'dist'),
  outExtension: { '.js': '.mjs' },
  // What only some configurations load (grpc-js, @peculiar/x509, OpenTelemetry, ioredis, …)
  // stays in chunks imported on first use: V8 parses only what this start needs.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Dependencies written as CommonJS call require(): give the module one (the entry's
  // `#!/usr/bin/env node` stays the first line).
  banner: {
    js: "import { createRequire as __certboundRequire } from 'node:module';\nconst require = __certboundRequire(import.meta.url);",
  },
  // Not minified: stack traces and CPU profiles keep names and lines (minifying did not
  // start it measurably sooner). Licence texts of the bundled packages go next to it.
  legalComments: 'linked',
  logLevel: 'warning',
});
