import { decodeJwt } from 'jose';
import { peerIdentityOf, type PeerIdentity } from '../binding/peer-identity.js';
import type { CertificateInput } from '../binding/thumbprint.js';
import { CertboundError } from '../errors.js';
import {
  authorizeRequest,
  type AuthorizationPipeline,
  type PolicyTable,
} from './authorize-request.js';
import { checkPolicy, policyFor } from './policy.js';
import { proveBinding, type BindingProof } from './proof-of-possession.js';
import { proofRulesOf } from './proof-requirement.js';
import { principalOf, type Principal } from './principal.js';
import { normalisePath } from './request-path.js';
import type { TokenCheck } from './token-validator.js';

/** What {@link explainToken} found. */
export interface TokenExplanation {
  /** Every check, in the pipeline's order. */
  readonly checks: readonly TokenCheck[];
  /** The pipeline's own verdict (what the sidecar would answer). */
  readonly verdict:
    | { readonly ok: true; readonly principal: Principal }
    | {
        readonly ok: false;
        readonly error: CertboundError;
      };
}

const asError = (err: unknown): CertboundError =>
  err instanceof CertboundError
    ? err
    : new CertboundError('ERR_TOKEN_MALFORMED', err instanceof Error ? err.message : String(err));

function fail(check: string, err: unknown): TokenCheck {
  const e = asError(err);
  return { check, result: 'fail', code: e.code, detail: e.message };
}

/**
 * Explains why the inbound pipeline would accept or refuse `token` from a caller presenting
 * `cert` on `path`: the caller's certificate, the token validator's checks (its
 * `explain` hook: the same functions `validate` runs), the `cnf.x5t#S256` binding (the
 * pipeline's proof step) and the route policy — then the verdict of `authorizeRequest`
 * itself, so the answer is the sidecar's, whatever the list says. For `certbound verify`;
 * never reports the token or its signature.
 */
export async function explainToken(
  token: string,
  request: { readonly cert: CertificateInput; readonly path: string },
  pipeline: AuthorizationPipeline,
  policies: PolicyTable | undefined,
): Promise<TokenExplanation> {
  const checks: TokenCheck[] = [];
  let peer: PeerIdentity | undefined;
  try {
    peer = peerIdentityOf(request.cert);
    checks.push({
      check: 'client certificate',
      result: 'pass',
      detail: `x5t#S256 ${peer.thumbprint}${peer.spiffeId !== undefined ? `, ${peer.spiffeId}` : ''}`,
    });
  } catch (err) {
    checks.push(fail('client certificate', err));
  }
  let path: string;
  try {
    path = normalisePath(request.path);
  } catch (err) {
    checks.push(fail('path', err));
    path = '/';
  }

  const validator = pipeline.validatorFor(token);
  let claims: Readonly<Record<string, unknown>> | undefined;
  if (validator.explain !== undefined) {
    checks.push(...(await validator.explain(token)));
    try {
      claims = decodeJwt(token);
    } catch {
      // Already reported by the validator's decode check.
    }
  } else {
    // A token no configured validator can explain offline: an unknown issuer, an
    // unroutable token, or an opaque token (introspection asks the AS).
    try {
      await validator.validate(token);
      checks.push({ check: validator.kind, result: 'pass', detail: 'accepted' });
    } catch (err) {
      checks.push(fail(validator.kind === 'jwt' ? 'issuer' : validator.kind, err));
    }
  }

  if (claims !== undefined && peer !== undefined) {
    // Shown anyway, so every reason is listed; marked when the signature did not vouch for them.
    const unverified = !checks.some((c) => c.check === 'signature' && c.result === 'pass');
    const note = unverified ? ' [unverified claims]' : '';
    const cnf = (claims['cnf'] as Record<string, unknown> | undefined)?.['x5t#S256'];
    const compared = `token cnf.x5t#S256 ${JSON.stringify(cnf)?.slice(0, 64) ?? '(absent)'}, certificate ${peer.thumbprint}`;
    const policy = policyFor(policies, path);
    // The route's proof rules (`policies[].proof`), as authorizeRequest derives them.
    const rules = proofRulesOf(policy?.proof);
    let bound: BindingProof | undefined;
    try {
      bound = await proveBinding(claims, {
        credentials: { scheme: 'Bearer', token },
        rules,
        certificate: { peer, source: 'connection' },
        dpopProofs: [],
        method: 'GET',
        path,
        dpop: pipeline.dpop,
      });
      checks.push({
        check: 'binding',
        result: 'pass',
        detail: `${compared} (proof ${rules.requirement})${note}`,
      });
    } catch (err) {
      const f = fail('binding', err);
      checks.push({ ...f, detail: `${f.detail} (${compared}; proof ${rules.requirement})${note}` });
    }
    try {
      checkPolicy(principalOf(claims, bound?.certificate?.peer ?? peer, validator.kind), policy);
      checks.push({
        check: 'policy',
        result: 'pass',
        detail:
          policy === undefined ? `no policy for ${path}` : `${path}: ${JSON.stringify(policy)}`,
      });
    } catch (err) {
      const f = fail('policy', err);
      checks.push({ ...f, detail: `${f.detail} (${path}: ${JSON.stringify(policy)})${note}` });
    }
  }

  let verdict: TokenExplanation['verdict'];
  try {
    const principal = await authorizeRequest(
      { authorization: [`Bearer ${token}`], peer, method: 'GET', path },
      pipeline,
      policies,
    );
    verdict = { ok: true, principal };
  } catch (err) {
    verdict = { ok: false, error: asError(err) };
  }
  return { checks, verdict };
}
