/**
 * The innermost string `code` (ECONNREFUSED, ERR_TLS_…, UND_ERR_…) of an error and its
 * `cause` chain (at most 5 deep), for messages that say why a connection failed.
 */
export function causeCodeOf(err: unknown): string | undefined {
  let code: string | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
    e = e.cause;
  }
  return code;
}
