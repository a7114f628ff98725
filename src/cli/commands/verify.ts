import { loadConfigFile } from '../../config/load-config.js';
import type { CertboundConfig } from '../../config/schema.js';
import { CertboundError } from '../../errors.js';
import type { X509Source } from '../../identity/x509-source.js';
import { readConfiguredFile } from '../../sidecar/config-files.js';
import { verifierPlanOf } from '../../sidecar/verifier-of-config.js';
import { explainToken } from '../../verify/explain-token.js';
import type { TokenCheck } from '../../verify/token-validator.js';
import { UsageError, type Command, type OptionSpecs, parseOptions } from '../command.js';
import { CONFIG_OPTION } from '../common-options.js';

const OPTIONS = {
  config: CONFIG_OPTION,
  token: {
    type: 'string',
    valueName: '<token>|-',
    description: 'the access token; "-" reads it from stdin (keeps it out of shell history)',
  },
  'token-file': {
    type: 'string',
    valueName: '<file>',
    description: 'read the access token from this file',
  },
  cert: {
    type: 'string',
    valueName: '<file>',
    description: "the caller's client certificate (PEM) the token must be bound to (required)",
  },
  path: {
    type: 'string',
    default: '/',
    valueName: '<path>',
    description: 'request path (or /package.Service/Method) whose inbound policy applies',
  },
  jwks: {
    type: 'string',
    valueName: '<file>',
    description: "verify signatures with this JWKS file instead of fetching the issuers' jwksUri",
  },
} as const satisfies OptionSpecs;

// The verifier needs a certificate only to introspect opaque tokens at the AS, which is online.
const NO_IDENTITY: X509Source = {
  current() {
    throw new CertboundError(
      'ERR_SOURCE_CLOSED',
      'certbound verify works offline: it presents no certificate to the authorization server.',
    );
  },
  onUpdate: () => () => undefined,
  onError: () => () => undefined,
  close: () => Promise.resolve(),
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `verify` with every issuer's keys taken from `jwksFile`. */
function withJwksFile(
  v: NonNullable<CertboundConfig['verify']>,
  jwksFile: string,
): NonNullable<CertboundConfig['verify']> {
  const { jwksUri: _uri, ...rest } = v;
  return {
    ...rest,
    jwksFile,
    ...(v.issuers !== undefined
      ? {
          issuers: v.issuers.map((i) => {
            if (i.jwksUri === undefined && i.jwksFile === undefined) return i;
            const { jwksUri: _u, ...issuer } = i;
            return { ...issuer, jwksFile };
          }),
        }
      : {}),
  };
}

const MARK = { pass: '✓', fail: '✗', skipped: '–' } as const;

function lineOf(c: TokenCheck, width: number): string {
  return `${MARK[c.result]} ${c.check.padEnd(width)} ${c.code !== undefined ? `${c.code}: ` : ''}${c.detail}`;
}

/** `certbound verify --token -|T --cert FILE [--config F] [--jwks FILE] [--path P]` */
export const verify: Command = {
  path: ['verify'],
  summary: 'explain offline why the sidecar would accept or refuse a token from a certificate',
  usage:
    'certbound verify (--token <token>|- | --token-file <file>) --cert <cert.pem> [--config <certbound.yaml>] [--jwks <file>] [--path <path>]',
  options: OPTIONS,
  async run(args) {
    const values = parseOptions(args, OPTIONS);
    if (values.cert === undefined) throw new UsageError('--cert is required');
    if ((values.token === undefined) === (values['token-file'] === undefined))
      throw new UsageError(
        'give the token with exactly one of --token (or --token -) and --token-file',
      );
    const raw =
      values['token-file'] !== undefined
        ? await readConfiguredFile(values['token-file'], '--token-file')
        : values.token === '-'
          ? await readStdin()
          : (values.token as string);
    // A pasted header value works too.
    const token = raw.trim().replace(/^Bearer\s+/i, '');
    const cert = await readConfiguredFile(values.cert, '--cert');
    const config = await loadConfigFile(values.config);
    if (config.verify === undefined)
      throw new UsageError(`${values.config} has no verify section: nothing to verify against`);
    const plan = await verifierPlanOf(
      values.jwks !== undefined ? withJwksFile(config.verify, values.jwks) : config.verify,
      config.profile,
    );
    const verifier = plan.build(NO_IDENTITY);
    try {
      const { checks, verdict } = await explainToken(
        token,
        { cert, path: values.path },
        verifier.pipeline,
        config.inbound?.policies,
      );
      const width = Math.max(...checks.map((c) => c.check.length));
      for (const c of checks) console.log(lineOf(c, width));
      if (verdict.ok) {
        const p = verdict.principal;
        console.log(
          `accepted: client ${p.clientId ?? '(none)'}${p.spiffeId !== undefined ? `, ${p.spiffeId}` : ''}, issuer ${p.issuer ?? '(none)'}, scopes ${p.scopes.join(' ') || '(none)'}`,
        );
        return 0;
      }
      console.log(`refused: ${verdict.error.code}: ${verdict.error.message}`);
      if (verdict.error.code === 'ERR_JWKS_UNAVAILABLE' && values.jwks === undefined)
        console.log(
          '(the keys could not be fetched: give them with --jwks <file> to verify offline)',
        );
      return 1;
    } finally {
      await verifier.close();
    }
  },
};
