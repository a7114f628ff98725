import { CertboundError } from '../errors.js';

/**
 * A request target reduced to origin-form and normalised once: the value the route policy
 * is matched against, the access log prints and the app is sent — never two readings of
 * one request.
 */
export interface RequestTarget {
  /**
   * The normalised path: starts with `/`; percent-encoded unreserved characters decoded,
   * other escapes in upper-case hex; `.` and `..` segments resolved; repeated `/` merged.
   */
  readonly path: string;
  /** The query with its `?`, or `''`; passed on byte for byte. */
  readonly query: string;
  /** Authority of an absolute-form target (RFC 9112 §3.2.2: it replaces `Host`). */
  readonly authority: string | undefined;
  /**
   * True when the target's shape changed: absolute-form reduced to origin-form, dot
   * segments resolved or repeated slashes merged. A router that already routed the raw
   * target saw another path than {@link RequestTarget.path} (escape decoding alone does
   * not count: routers decode those themselves).
   */
  readonly reshaped: boolean;
}

/** Options of {@link requestTargetOf}. */
export interface RequestTargetOptions {
  /** Accept absolute-form (`GET https://host/path`): HTTP/1.1 only (RFC 9113 §8.3.1). */
  readonly absoluteForm?: boolean;
}

// RFC 3986 §3.3 pchar without pct-encoded, plus "/": a path made only of these, without
// "//" or "/.", is already normal (the fast path of every ordinary request).
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
// What may appear raw in a path besides pchar: characters RFC 3986 leaves out but that
// carry no path structure (node's parser passes them). Backslash and "#" are not here.
const TOLERATED = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%"<>^`{|}[\]]*$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
// `..;x` is `..` to routers that strip path parameters first (Tomcat, Spring, Jetty).
const DOT_WITH_PARAMS = /^\.\.?(?:;|%3B)/;
// RFC 3986 §3.2: scheme "://" authority, then path-abempty and query.
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;
// RFC 3986 §3.2.2 host (reg-name or IP-literal) and §3.2.3 port; no userinfo (RFC 9110 §4.2.4).
const AUTHORITY =
  /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+(?::\d{0,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{0,5})?$/;

function unsafe(reason: string): CertboundError {
  return new CertboundError('ERR_PATH_UNSAFE', `The request path ${reason}.`);
}

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

/** Decodes escapes of unreserved characters, upper-cases the others, refuses unsafe ones. */
function decodeUnreserved(path: string): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', from)) {
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw unsafe('has a malformed percent-escape');
    const code = parseInt(hex, 16);
    // An escaped "/" or "\" is a segment boundary to some routers and not to others.
    if (code === 0x2f || code === 0x5c) throw unsafe('has an escaped slash or backslash');
    if (code < 0x20 || code === 0x7f) throw unsafe('has an escaped control character');
    out +=
      path.slice(from, i) +
      (isUnreserved(code) ? String.fromCharCode(code) : `%${hex.toUpperCase()}`);
    from = i + 3;
  }
  return out + path.slice(from);
}

/**
 * Normalises an origin-form path (RFC 3986 §6.2.2): percent-encoded unreserved characters
 * decoded, other escapes upper-cased, dot segments removed (§5.2.4), empty segments merged.
 * `..` above the root stays at the root, as RFC 3986 resolves it.
 *
 * @throws CertboundError `ERR_PATH_UNSAFE` when the path cannot be normalised into one
 *   reading every router shares: `\`, `#`, raw control or non-ASCII bytes, malformed
 *   escapes, escaped `/` `\` or control characters, and `..;` / `.;` segments (which
 *   Tomcat-style routers read as dot segments).
 */
export function normalisePath(path: string): string {
  return normalised(path).path;
}

function normalised(path: string): { path: string; reshaped: boolean } {
  if (PLAIN_PATH.test(path) && !path.includes('//') && !path.includes('/.'))
    return { path, reshaped: false };
  if (!TOLERATED.test(path)) {
    throw unsafe(
      path.includes('\\')
        ? 'has a backslash'
        : path.includes('#')
          ? 'has a fragment'
          : 'has a character that is not allowed',
    );
  }
  const decoded = path.includes('%') ? decodeUnreserved(path) : path;
  const segments: string[] = [];
  const parts = decoded.split('/');
  // parts[0] is the empty string before the leading "/".
  let trailingSlash = false;
  let reshaped = false;
  for (let i = 1; i < parts.length; i++) {
    const segment = parts[i]!;
    const last = i === parts.length - 1;
    if (segment === '' || segment === '.' || segment === '..') {
      if (segment === '..') segments.pop();
      // A final empty segment is a trailing slash, kept as sent.
      if (!(segment === '' && last)) reshaped = true;
      trailingSlash = last;
      continue;
    }
    if (DOT_WITH_PARAMS.test(segment)) throw unsafe('has a dot segment with parameters (..;)');
    segments.push(segment);
    trailingSlash = false;
  }
  const joined = `/${segments.join('/')}`;
  return { path: trailingSlash && segments.length > 0 ? `${joined}/` : joined, reshaped };
}

/**
 * Reads an HTTP request target (RFC 9112 §3.2) into a normalised {@link RequestTarget}.
 * Origin-form is normalised; absolute-form (`http`/`https`, when allowed) is reduced to its
 * path and authority.
 *
 * @throws CertboundError `ERR_REQUEST_TARGET_UNSUPPORTED` for asterisk-form (`*`),
 *   authority-form (CONNECT) and other schemes; `ERR_REQUEST_TARGET_INVALID` for a target
 *   that is none of the forms, or an authority with userinfo or bad characters;
 *   `ERR_PATH_UNSAFE` (see {@link normalisePath}).
 */
export function requestTargetOf(target: string, options: RequestTargetOptions = {}): RequestTarget {
  let rest = target;
  let authority: string | undefined;
  if (!target.startsWith('/')) {
    if (target === '*')
      throw new CertboundError(
        'ERR_REQUEST_TARGET_UNSUPPORTED',
        'Asterisk-form (OPTIONS *) is not forwarded.',
      );
    const absolute = ABSOLUTE.exec(target);
    if (absolute === null) {
      throw /^[^/?#]+:\d*$/.test(target)
        ? new CertboundError(
            'ERR_REQUEST_TARGET_UNSUPPORTED',
            'Authority-form (CONNECT) is not forwarded.',
          )
        : new CertboundError(
            'ERR_REQUEST_TARGET_INVALID',
            'The request target is not in origin-form.',
          );
    }
    const scheme = absolute[1]!.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https')
      throw new CertboundError(
        'ERR_REQUEST_TARGET_UNSUPPORTED',
        'Only http and https absolute-form targets are forwarded.',
      );
    if (options.absoluteForm !== true)
      throw new CertboundError(
        'ERR_REQUEST_TARGET_INVALID',
        'Absolute-form is only valid in HTTP/1.1 (RFC 9113 §8.3.1).',
      );
    authority = absolute[2]!;
    if (!AUTHORITY.test(authority))
      throw new CertboundError(
        'ERR_REQUEST_TARGET_INVALID',
        'The request target has no valid authority (or carries userinfo).',
      );
    rest = absolute[3]!;
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  const query = q === -1 ? '' : rest.slice(q);
  if (query.includes('#')) throw unsafe('has a fragment');
  const { path, reshaped } = normalised(q === -1 ? rest : rest.slice(0, q));
  return { path, query, authority, reshaped: reshaped || authority !== undefined };
}

/**
 * The path a route policy is matched against (and the app is sent) for a request target
 * `url`: {@link requestTargetOf} with absolute-form allowed, path only.
 *
 * @throws CertboundError as {@link requestTargetOf}
 */
export function policyPathOf(url: string): string {
  return requestTargetOf(url, { absoluteForm: true }).path;
}
