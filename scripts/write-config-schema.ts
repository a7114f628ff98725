// Build step (npm run build, after tsc): writes the JSON Schema of certbound.yaml that the
// package ships, from the compiled zod schema, so the file can never lag behind the code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchemaText } from '../src/config/json-schema.js';

// Compiled to dist/scripts/: the package root is two levels up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = join(root, CONFIG_JSON_SCHEMA_FILE);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, configJsonSchemaText());
