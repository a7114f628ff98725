import { parseArgs } from 'node:util';
import type { CertboundConfig } from '../../config/schema.js';
import { loadConfigFile } from '../../config/load-config.js';
import { prepareSidecar } from '../../sidecar/prepare-sidecar.js';
import { UsageError, type Command, type OptionSpecs } from '../command.js';

const OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    valueName: '<file>',
    description: 'the configuration file (or give it as the one argument)',
  },
  'schema-only': {
    type: 'boolean',
    default: false,
    description:
      'check keys and values only, open no file it names (CI, where the certificates are not mounted)',
  },
} as const satisfies OptionSpecs;

/** One line naming what the configuration runs. */
function summaryOf(config: CertboundConfig): string {
  return [
    config.inbound &&
      `inbound ${config.inbound.host}:${config.inbound.port} → ${config.inbound.app.url}`,
    config.outbound &&
      `outbound ${config.outbound.host}:${config.outbound.port} (${config.outbound.upstreams.length} upstream(s))`,
    config.localApi && 'local token API',
    config.admin && `admin ${config.admin.host}:${config.admin.port}`,
  ]
    .filter((p): p is string => typeof p === 'string')
    .join('; ');
}

/** `certbound config check <file>` or `certbound config check --config <file>` */
export const configCheck: Command = {
  path: ['config', 'check'],
  summary:
    'check a configuration (and CERTBOUND_* overrides) and every file it names, as run would, without running',
  usage: 'certbound config check [--config] <certbound.yaml> [--schema-only]',
  options: OPTIONS,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const files = [...(values.config !== undefined ? [values.config] : []), ...positionals];
    const file = files[0];
    if (file === undefined || files.length !== 1) throw new UsageError('expected one file');
    const config = await loadConfigFile(file);
    if (values['schema-only']) {
      console.log(`${file}: valid (${summaryOf(config)}); files not checked (--schema-only)`);
      return 0;
    }
    // The checks `run` makes before it opens a port, with the messages it prints.
    const { source } = await prepareSidecar(config);
    try {
      const id = source.current();
      console.log(`${file}: valid (${summaryOf(config)})`);
      console.log(
        `  identity: ${id.spiffeId ?? id.leaf.subject.replace(/\n/g, ', ')}, x5t#S256 ${id.thumbprint}, valid until ${id.notAfter.toISOString()}; key matches, chains to the bundle (${id.bundle.length} CA(s))`,
      );
      console.log('  every file named is readable; CA files and the JWKS file parse');
    } finally {
      await source.close();
    }
    return 0;
  },
};
