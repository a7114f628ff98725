import { readFile } from 'node:fs/promises';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { loadConfigFile } from '../../config/load-config.js';
import { identitySourceOf } from '../../sidecar/identity-source.js';
import type { TokenRequest } from '../../token/access-token.js';
import { TokenClient } from '../../token/token-client.js';
import { UsageError, type Command, type OptionSpecs, parseOptions } from '../command.js';
import { CONFIG_OPTION } from '../common-options.js';

const OPTIONS = {
  config: CONFIG_OPTION,
  upstream: {
    type: 'string',
    valueName: '<name>',
    description: 'take audience, resource and scope from this outbound upstream',
  },
  audience: { type: 'string', valueName: '<aud>', description: 'the audience to ask for' },
  resource: {
    type: 'string',
    valueName: '<uri>',
    description: 'the resource indicator (RFC 8707)',
  },
  scope: { type: 'string', valueName: '"<scopes>"', description: 'space-separated scopes' },
  json: {
    type: 'boolean',
    default: false,
    description: 'print token, type, expiry and the bound thumbprint as JSON',
  },
  claims: {
    type: 'boolean',
    default: false,
    description:
      'print the decoded header and claims instead of the token (never the token or its signature)',
  },
} as const satisfies OptionSpecs;

/**
 * What `--claims` prints of a token: its decoded header and payload (unverified, as the AS
 * issued them), never the token or the signature. An opaque token has neither.
 */
function claimsOf(token: string): { header: unknown; claims: unknown } | undefined {
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    return undefined;
  }
}

/** `certbound token --config f [--upstream name | --audience a --resource r --scope s]` */
export const token: Command = {
  path: ['token'],
  summary: 'get a certificate-bound access token: print it (for curl) or its decoded claims',
  usage:
    'certbound token --config <certbound.yaml> [--upstream <name> | --audience <a>] [--resource <uri>] [--scope "<s>"] [--json | --claims]',
  options: OPTIONS,
  async run(args) {
    const values = parseOptions(args, OPTIONS);
    if (values.json && values.claims) throw new UsageError('--json and --claims: choose one');
    const config = await loadConfigFile(values.config);
    if (config.token === undefined) throw new UsageError('the configuration has no token section');
    let request: TokenRequest = {
      ...(values.audience !== undefined ? { audience: values.audience } : {}),
      ...(values.resource !== undefined ? { resource: values.resource } : {}),
      ...(values.scope !== undefined ? { scope: values.scope } : {}),
    };
    if (values.upstream !== undefined) {
      const u = config.outbound?.upstreams.find((x) => x.name === values.upstream);
      if (u === undefined) throw new UsageError(`no upstream named "${values.upstream}"`);
      request = {
        ...(u.audience !== undefined ? { audience: u.audience } : {}),
        ...(u.resource !== undefined ? { resource: u.resource } : {}),
        ...(u.scope !== undefined ? { scope: u.scope } : {}),
        ...request,
      };
    }
    // The CLI prints only the token: the source logs nowhere.
    const source = await identitySourceOf(config.identity, {
      requireServerAuth: false,
      authMethod: config.token.authMethod,
    });
    const t = config.token;
    const client = new TokenClient({
      source,
      clientId: t.clientId,
      ...(t.issuer !== undefined ? { issuer: t.issuer } : {}),
      ...(t.tokenEndpoint !== undefined ? { tokenEndpoint: t.tokenEndpoint } : {}),
      authMethod: t.authMethod,
      ...(t.asCaFile !== undefined ? { ca: await readFile(t.asCaFile, 'utf8') } : {}),
      timeoutMs: t.timeout,
    });
    try {
      const access = await client.get(request);
      if (values.claims) {
        const decoded = claimsOf(access.accessToken);
        if (decoded === undefined)
          console.error(
            'certbound: the token is opaque (not a JWT): it carries no claims to decode',
          );
        process.stdout.write(
          `${JSON.stringify(
            {
              ...(decoded ?? { opaque: true }),
              token_type: access.tokenType,
              expires_at: access.expiresAt.toISOString(),
              x5t_s256: access.thumbprint,
            },
            null,
            2,
          )}\n`,
        );
        return 0;
      }
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ access_token: access.accessToken, token_type: access.tokenType, expires_at: access.expiresAt.toISOString(), x5t_s256: access.thumbprint })}\n`
          : `${access.accessToken}\n`,
      );
    } finally {
      await client.close();
      await source.close();
    }
    return 0;
  },
};
