import { CertboundError } from '../errors.js';
import { isUsable, type SlotEffect, type SlotState } from './token-slot.js';

/** The answer of {@link pinnedLookup}; {@link retiredLookup} never joins. */
export type PinnedAnswer =
  | Extract<SlotEffect, { type: 'serve' | 'join' }>
  | { readonly type: 'refuse'; readonly error: CertboundError };

/**
 * What a caller pinned to a certificate other than the current one gets (RFC 8705 §3: the
 * token must match the certificate its connection presents): the request in flight for
 * that certificate (`join`, then check its token with {@link isUsable} and fall back to
 * {@link retiredLookup}), else {@link retiredLookup}.
 */
export function pinnedLookup(state: SlotState, thumbprint: string, now: number): PinnedAnswer {
  if (state.fetching?.thumbprint === thumbprint) return { type: 'join', reason: 'get' };
  return retiredLookup(state, thumbprint, now);
}

/** The retired token of `thumbprint` while valid, else `ERR_TOKEN_NOT_BOUND`. */
export function retiredLookup(
  state: SlotState,
  thumbprint: string,
  now: number,
): Exclude<PinnedAnswer, { type: 'join' }> {
  if (isUsable(state.retired, thumbprint, now)) return { type: 'serve', token: state.retired };
  return {
    type: 'refuse',
    error: new CertboundError(
      'ERR_TOKEN_NOT_BOUND',
      'No valid token is held for the requested certificate: it is not the current one and was rotated away.',
    ),
  };
}
