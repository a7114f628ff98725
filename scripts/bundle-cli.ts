// Build step (npm run build, after tsc): bundles the compiled CLI and its dependencies into
// one ES module, dist/certbound.mjs, the `certbound` command of the package and the image.
// Node resolves, reads and compiles ≈ 170 modules of dist/src plus the dependencies' files
// one by one; from one file the sidecar reaches /readyz ≈ 40 % sooner (bench/README.md).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/scripts/: the package root is two levels up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  outfile: join(root, 'dist', 'certbound.mjs'),
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
