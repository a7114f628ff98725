import { normalisePath } from '../request-path.js';

// scheme "://" authority, then path, query, fragment (RFC 3986 §3); no backslash, space or
// control character anywhere: WHATWG URL would silently turn them into something else.
// eslint-disable-next-line no-control-regex -- the controls are what this refuses
const HTTP_URI = /^(https?):\/\/([^/?#@\\\s\x00-\x1f\x7f]+)([^?#\\\s\x00-\x1f\x7f]*)(?:[?#].*)?$/is;

/**
 * The origin of an `http(s)` URI after RFC 3986 §6.2.2 normalisation: scheme and host in
 * lower case, the default port dropped (`https://API.example:443` → `https://api.example`).
 * Undefined when `uri` is not an absolute http(s) URI or has userinfo.
 */
function originOf(scheme: string, authority: string): string | undefined {
  try {
    const url = new URL(`${scheme}://${authority}/`);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/**
 * An `htu` value reduced for comparison (RFC 9449 §4.3 point 9: "ignoring any query and
 * fragment"; RFC 3986 §6.2.2 syntax-based normalisation): origin as {@link originOf}, the
 * path normalised like every request path (unreserved escapes decoded, other escapes in
 * upper-case hex, dot segments resolved, `/` for an empty path). Undefined when `uri` is
 * not an absolute http(s) URI, has userinfo, or a path certbound refuses.
 */
export function normaliseHtu(uri: string): string | undefined {
  const m = HTTP_URI.exec(uri);
  if (m === null) return undefined;
  const origin = originOf((m[1] as string).toLowerCase(), m[2] as string);
  if (origin === undefined) return undefined;
  const rawPath = (m[3] as string) === '' ? '/' : (m[3] as string);
  try {
    return origin + normalisePath(rawPath);
  } catch {
    return undefined;
  }
}

/**
 * The normalised origin of `inbound.publicOrigin` (`https://host[:port]`, no path).
 *
 * @throws TypeError when `origin` is not an https origin
 */
export function publicOriginOf(origin: string): string {
  const m = HTTP_URI.exec(origin);
  const normal = m !== null ? originOf((m[1] as string).toLowerCase(), m[2] as string) : undefined;
  if (
    m === null ||
    normal === undefined ||
    !normal.startsWith('https://') ||
    !((m[3] as string) === '' || (m[3] as string) === '/') ||
    /[?#]/.test(origin)
  )
    throw new TypeError('publicOrigin must be an https://host[:port] origin without a path');
  return normal;
}
