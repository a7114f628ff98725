import { z } from 'zod';
import { configSchema } from './schema.js';

/** Formats zod writes beside a `pattern` that no JSON Schema validator knows (the pattern says it). */
const ZOD_ONLY_FORMATS = new Set(['starts_with', 'ends_with', 'includes']);

/** Where the package ships the JSON Schema of `certbound.yaml`, relative to its root. */
export const CONFIG_JSON_SCHEMA_FILE = 'schema/certbound.schema.json';

/**
 * The JSON Schema (draft-07, what YAML language servers read) of what `certbound.yaml` may
 * contain, generated from {@link configSchema}: the input side (durations as `"30s"` or
 * milliseconds, defaults shown), unknown keys refused.
 *
 * Does not express the cross-field rules and value checks of the zod schema (`verify` required
 * with `inbound`, loopback-only hosts, URL schemes, cipher names…): `certbound config check`
 * and `certbound run` still apply those.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'throw',
    override: ({ jsonSchema }) => {
      if (typeof jsonSchema.format === 'string' && ZOD_ONLY_FORMATS.has(jsonSchema.format))
        delete jsonSchema.format;
    },
  });
  return {
    ...generated,
    title: 'certbound.yaml',
    description:
      'certbound sidecar configuration (docs/configuration.md). Editors check keys and types; `certbound config check` checks everything.',
  };
}

/** {@link configJsonSchema} as the shipped file holds it: 2-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
