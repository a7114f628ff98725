import { parseArgs } from 'node:util';
import { fapi2ViolationsOf, formatViolation } from '../../config/fapi2-profile.js';
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
  profile: {
    type: 'string',
    valueName: 'fapi2',
    description:
      'also check the file against a profile (FAPI 2.0); a file that sets `profile` is always checked',
  },
  'schema-only': {
    type: 'boolean',
    default: false,
    description:
      'check keys and values only, open no file it names (CI, where the certificates are not mounted)',
  },
} as const satisfies OptionSpecs;

/** One line naming what the configuration runs. */
function summaryOf(config: CertboundConfig, profile: string | undefined): string {
  return [
    config.inbound &&
      `inbound ${config.inbound.host}:${config.inbound.port} → ${config.inbound.app.url}`,
    config.outbound &&
      `outbound ${config.outbound.host}:${config.outbound.port} (${config.outbound.upstreams.length} upstream(s))`,
    config.localApi && 'local token API',
    config.admin && `admin ${config.admin.host}:${config.admin.port}`,
    profile !== undefined && `meets profile ${profile}`,
  ]
    .filter((p): p is string => typeof p === 'string')
    .join('; ');
}

/** `certbound config check [--profile fapi2] <file>` or `certbound config check --config <file>` */
export const configCheck: Command = {
  path: ['config', 'check'],
  summary:
    'check a configuration (and CERTBOUND_* overrides) and every file it names, as run would, without running',
  usage: 'certbound config check [--profile fapi2] [--config] <certbound.yaml> [--schema-only]',
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
    if (values.profile !== undefined && values.profile !== 'fapi2')
      throw new UsageError(`unknown profile ${values.profile.slice(0, 32)} (known: fapi2)`);
    const config = await loadConfigFile(file);
    const profile = values.profile ?? config.profile;
    // FAPI 2.0: every violation with its section, so an auditor sees the whole list at once.
    if (profile === 'fapi2') {
      const violations = fapi2ViolationsOf(config);
      if (violations.length > 0) {
        console.error(`${file}: ${violations.length} setting(s) break the FAPI 2.0 profile:`);
        for (const v of violations) console.error(`  ${formatViolation(v)}`);
        return 1;
      }
    }
    if (values['schema-only']) {
      console.log(
        `${file}: valid (${summaryOf(config, profile)}); files not checked (--schema-only)`,
      );
      return 0;
    }
    // The checks `run` makes before it opens a port, with the messages it prints.
    const { source } = await prepareSidecar(config);
    try {
      const id = source.current();
      console.log(`${file}: valid (${summaryOf(config, profile)})`);
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
