/** Deepest `cause` chain followed: ends cycles and pathological nesting. */
const MAX_DEPTH = 5;

/**
 * `err` and the errors of its `cause` chain, outermost first, at most 5. Stops at the
 * first value that is not an `Error` (DOMException counts as one).
 */
export function causeChain(err: unknown): Error[] {
  const chain: Error[] = [];
  for (let e: unknown = err; e instanceof Error && chain.length < MAX_DEPTH; e = e.cause) {
    chain.push(e);
  }
  return chain;
}

/** The string `code` of an error (node's `ECONNREFUSED`, undici's `UND_ERR_…`), if any. */
export function codeOf(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The outermost error of `err`'s {@link causeChain} that `matches`. */
export function findCause(err: unknown, matches: (e: Error) => boolean): Error | undefined {
  return causeChain(err).find(matches);
}

/**
 * The innermost string `code` (ECONNREFUSED, ERR_TLS_…, UND_ERR_…) of an error and its
 * `cause` chain, for messages that say why a connection failed: the root reason, not the
 * wrapper (`fetch failed` → ECONNREFUSED).
 */
export function causeCodeOf(err: unknown): string | undefined {
  let code: string | undefined;
  for (const e of causeChain(err)) code = codeOf(e) ?? code;
  return code;
}
