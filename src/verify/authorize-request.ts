import type { PeerIdentity } from '../binding/peer-identity.js';
import { CertboundError } from '../errors.js';
import { bearerTokenOf } from './bearer-token.js';
import { checkPolicy, policyFor, type AccessPolicy } from './policy.js';
import type { ProofContext, ProofOfPossession } from './proof-of-possession.js';
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
  /** The proof-of-possession check. */
  readonly proof: ProofOfPossession;
  /** Clock tolerance on `exp`, in ms, for the per-connection memo. */
  readonly clockToleranceMs: number;
  /** Clock. */
  now(): number;
  /**
   * Per connection (its {@link PeerIdentity} object), the last token authorized on it:
   * keep-alive traffic re-sends the same token, and this skips hashing, the cache and
   * building the principal. Expiry and the proof are still checked on every call, and an
   * answer with a revalidation deadline (introspection) is not reused past it.
   * Undefined turns it off.
   */
  readonly memo?: WeakMap<PeerIdentity, MemoEntry>;
  /** Called on a memo hit (cache counters). */
  onMemoHit?(): void;
}

/** Route policies: the longest matching prefix applies. */
export type PolicyTable = ReadonlyArray<{ readonly prefix: string } & AccessPolicy>;

/**
 * Authorizes one token for one request, after credential extraction: proof precheck
 * (no certificate → refused before any token work), token validation, proof of
 * possession, principal. No policy. The one place, with {@link authorizeRequest}, that
 * orders these checks.
 *
 * @throws CertboundError with the code to answer
 */
export async function authorizeToken(
  token: string,
  request: ProofContext,
  pipeline: AuthorizationPipeline,
): Promise<Principal> {
  pipeline.proof.precheck(request);
  const peer = request.peer ?? undefined;
  const last = peer !== undefined ? pipeline.memo?.get(peer) : undefined;
  if (
    last !== undefined &&
    last.token === token &&
    !(last.revalidateAtMs !== undefined && pipeline.now() >= last.revalidateAtMs)
  ) {
    if (pipeline.now() >= last.principal.expiresAt.getTime() + pipeline.clockToleranceMs)
      throw new CertboundError('ERR_TOKEN_EXPIRED');
    pipeline.proof.prove(last.principal.claims, request);
    pipeline.onMemoHit?.();
    return last.principal;
  }
  const validated = await pipeline.validatorFor(token).validate(token);
  const bound = pipeline.proof.prove(validated.claims, request);
  const principal = Object.freeze(principalOf(validated.claims, bound, validated.validator));
  if (peer !== undefined)
    pipeline.memo?.set(peer, { token, principal, revalidateAtMs: validated.revalidateAtMs });
  return principal;
}

/**
 * THE inbound pipeline every transport calls (HTTP proxy, middleware, Fastify, gRPC
 * interceptor, gRPC forwarding): proof precheck → bearer credentials (RFC 6750 §2.1,
 * exactly one) → token validator → proof of possession → route policy → principal.
 * Transports only extract `request` and translate the result to their wire format.
 *
 * @throws CertboundError with the code to answer
 */
export async function authorizeRequest(
  request: InboundRequest,
  pipeline: AuthorizationPipeline,
  policies?: PolicyTable,
): Promise<Principal> {
  pipeline.proof.precheck(request);
  const token = bearerTokenOf(request.authorization, request.tokenInQuery === true);
  const principal = await authorizeToken(token, request, pipeline);
  if (policies !== undefined && policies.length > 0)
    checkPolicy(principal, policyFor(policies, request.path));
  return principal;
}
