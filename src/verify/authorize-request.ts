import type { PeerIdentity } from '../binding/peer-identity.js';
import { CertboundError } from '../errors.js';
import { credentialsOf, type Credentials } from './credentials.js';
import { checkPolicy, policyFor, type AccessPolicy } from './policy.js';
import type { DpopVerifier, ForwardedCertificates } from './proof-inputs.js';
import {
  certificateEvidenceOf,
  proveBinding,
  type BindingProof,
  type CertificateEvidence,
  type ProofContext,
} from './proof-of-possession.js';
import { proofRulesOf, type ProofRules } from './proof-requirement.js';
import { principalOf, type Principal } from './principal.js';
import type { TokenValidator } from './token-validator.js';

/** What a transport extracted from one inbound call, before any check. */
export interface InboundRequest extends ProofContext {
  /** Every `Authorization` value received (raw HTTP headers, or gRPC metadata). */
  readonly authorization: readonly string[];
  /** True when the URL query carries `access_token` (RFC 6750 §2.3: refused). */
  readonly tokenInQuery?: boolean;
  /** HTTP method (`POST` for gRPC). */
  readonly method: string;
  /** The normalised path the policy matches (or `/package.Service/Method`). */
  readonly path: string;
}

/** The last token authorized on one connection (see {@link AuthorizationPipeline.memo}). */
export interface MemoEntry {
  readonly token: string;
  readonly principal: Principal;
  /** `ValidatedToken.revalidateAtMs`: after it the validator is asked again. */
  readonly revalidateAtMs?: number | undefined;
}

/** The steps {@link authorizeRequest} runs, in the order it runs them. */
export interface AuthorizationPipeline {
  /** The validator for this token (chosen by issuer when several are configured). */
  validatorFor(token: string): TokenValidator;
  /** Client certificates forwarded by trusted hops (routes with `proof: forwarded|either|…`). */
  readonly forwarded?: ForwardedCertificates | undefined;
  /** DPoP proof checks (routes with `proof: dpop|any|both`). */
  readonly dpop?: DpopVerifier | undefined;
  /** Clock tolerance on `exp`, in ms, for the per-connection memo. */
  readonly clockToleranceMs: number;
  /** Clock. */
  now(): number;
  /**
   * Per connection (its {@link PeerIdentity} object), the last token authorized on it:
   * keep-alive traffic re-sends the same token, and this skips hashing, the cache and
   * building the principal. Expiry and every proof are still checked on every call, and an
   * answer with a revalidation deadline (introspection) is not reused past it.
   * Undefined turns it off.
   */
  readonly memo?: WeakMap<PeerIdentity, MemoEntry> | undefined;
  /** Called on a memo hit (cache counters). */
  onMemoHit?(): void;
}

/** Route policies: the longest matching prefix applies. */
export type PolicyTable = ReadonlyArray<{ readonly prefix: string } & AccessPolicy>;

const CONNECTION_RULES = proofRulesOf('mtls');

/** A principal authorized up to the policy, and the proof's record to make after it. */
interface Authorized {
  readonly principal: Principal;
  readonly proof: BindingProof;
}

function sameBinding(principal: Principal, proof: BindingProof): boolean {
  return (
    principal.proof === proof.kind &&
    principal.certificateSource === proof.certificate?.source &&
    principal.forwardedBy?.thumbprint === proof.certificate?.hop?.thumbprint
  );
}

async function authorizeCredentials(
  credentials: Credentials,
  request: ProofContext,
  rules: ProofRules,
  certificate: CertificateEvidence | undefined,
  method: string,
  path: string,
  pipeline: AuthorizationPipeline,
): Promise<Authorized> {
  const token = credentials.token;
  const connection = request.peer ?? undefined;
  const last = connection !== undefined ? pipeline.memo?.get(connection) : undefined;
  const input = {
    credentials,
    rules,
    certificate,
    certificateError: request.peerError,
    dpopProofs: credentials.scheme === 'DPoP' ? (request.header?.('dpop') ?? []) : [],
    method,
    path,
    dpop: pipeline.dpop,
  };
  if (
    last !== undefined &&
    last.token === token &&
    !(last.revalidateAtMs !== undefined && pipeline.now() >= last.revalidateAtMs)
  ) {
    if (pipeline.now() >= last.principal.expiresAt.getTime() + pipeline.clockToleranceMs)
      throw new CertboundError('ERR_TOKEN_EXPIRED');
    const proving = proveBinding(last.principal.claims, input);
    const proof = proving instanceof Promise ? await proving : proving;
    pipeline.onMemoHit?.();
    if (sameBinding(last.principal, proof)) return { principal: last.principal, proof };
    return {
      principal: principalFor(last.principal.claims, proof, last.principal.validator),
      proof,
    };
  }
  const validated = await pipeline.validatorFor(token).validate(token);
  const proving = proveBinding(validated.claims, input);
  const proof = proving instanceof Promise ? await proving : proving;
  const principal = principalFor(validated.claims, proof, validated.validator);
  if (connection !== undefined)
    pipeline.memo?.set(connection, { token, principal, revalidateAtMs: validated.revalidateAtMs });
  return { principal, proof };
}

function principalFor(
  claims: Readonly<Record<string, unknown>>,
  proof: BindingProof,
  validator: string | undefined,
): Principal {
  return Object.freeze(
    principalOf(claims, proof.certificate?.peer, validator, {
      proof: proof.kind,
      certificateSource: proof.certificate?.source,
      forwardedBy: proof.certificate?.hop,
      jkt: proof.dpop?.jkt,
    }),
  );
}

/**
 * Authorizes one bearer token bound to the certificate of this connection (RFC 8705 §3),
 * after credential extraction: certificate precheck (none → refused before any token
 * work), token validation, proof of possession, principal. No policy. The one place, with
 * {@link authorizeRequest}, that orders these checks.
 *
 * @throws CertboundError with the code to answer
 */
export async function authorizeToken(
  token: string,
  request: ProofContext,
  pipeline: AuthorizationPipeline,
): Promise<Principal> {
  const certificate = certificateEvidenceOf(request, CONNECTION_RULES, undefined);
  const authorized = await authorizeCredentials(
    { scheme: 'Bearer', token },
    request,
    CONNECTION_RULES,
    certificate,
    'POST',
    '/',
    pipeline,
  );
  return authorized.principal;
}

/**
 * The `WWW-Authenticate` schemes of a route's refusals, carried in the error's details
 * (`challenge`: `Bearer`, `DPoP` or `Bearer, DPoP`; `dpopAlgs`: the proof algorithms) for
 * the transports to render (RFC 9449 §7.1: both challenges when both are accepted).
 */
function withChallenge(err: unknown, rules: ProofRules, dpop: DpopVerifier | undefined): unknown {
  if (!rules.acceptsDpop || !(err instanceof CertboundError)) return err;
  return new CertboundError(err.code, err.message, {
    cause: err.cause,
    details: {
      ...err.details,
      challenge: rules.requiresDpop ? 'DPoP' : 'Bearer, DPoP',
      ...(dpop !== undefined ? { dpopAlgs: dpop.algorithms.join(' ') } : {}),
    },
  });
}

/**
 * THE inbound pipeline every transport calls (HTTP proxy, middleware, Fastify, gRPC
 * interceptor, gRPC forwarding): the route's proof rules (`policies[].proof`) →
 * certificate precheck (this connection's, or one a trusted hop forwarded) → credentials
 * (exactly one `Authorization`; `Bearer`, or `DPoP` where the route accepts it) → token
 * validator → proof of possession (certificate and/or DPoP) → route policy → the DPoP
 * proof's replay record → principal. Transports only extract `request` and translate the
 * result to their wire format.
 *
 * @throws CertboundError with the code to answer
 */
export async function authorizeRequest(
  request: InboundRequest,
  pipeline: AuthorizationPipeline,
  policies?: PolicyTable,
): Promise<Principal> {
  const policy =
    policies !== undefined && policies.length > 0 ? policyFor(policies, request.path) : undefined;
  const rules = policy?.proof === undefined ? CONNECTION_RULES : proofRulesOf(policy.proof);
  try {
    const certificate = certificateEvidenceOf(request, rules, pipeline.forwarded);
    if (rules.requiresDpop && pipeline.dpop === undefined)
      throw new CertboundError('ERR_DPOP_UNAVAILABLE');
    const credentials = credentialsOf(
      request.authorization,
      request.tokenInQuery === true,
      rules.acceptsDpop && pipeline.dpop !== undefined,
    );
    if (rules.requiresDpop && credentials.scheme !== 'DPoP')
      throw new CertboundError('ERR_DPOP_REQUIRED');
    const { principal, proof } = await authorizeCredentials(
      credentials,
      request,
      rules,
      certificate,
      request.method,
      request.path,
      pipeline,
    );
    checkPolicy(principal, policy);
    if (proof.dpop !== undefined) await proof.dpop.commit();
    return principal;
  } catch (err) {
    throw withChallenge(err, rules, pipeline.dpop);
  }
}
