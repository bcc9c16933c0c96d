/**
 * The request target (RFC 9112 §3.2) of an HTTP request or WebSocket upgrade, checked before
 * anything else reads it: origin-form (`/path?query`) or absolute-form (`http://host/path?query`),
 * each path segment non-empty and every `%` a complete escape. Anything else is not a request this
 * server can route, and gets a 400 rather than reaching a parser that throws.
 */

export interface RequestTarget {
  /** The path as sent, escapes kept (`/v1/models/a%20b`). */
  pathname: string;
  query: URLSearchParams;
  /** The authority of an absolute-form target, which replaces the Host header (RFC 9112 §3.2.2). */
  authority?: string;
}

/** Segment characters of RFC 3986 (`pchar`): unreserved, sub-delims, `:` `@`, and %-escapes. */
const SEGMENT = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+";
/** Query characters: visible ASCII but `#`, and `%` only as a complete escape. */
const QUERY = '(?:[!-"$&-~]|%[0-9A-Fa-f]{2})*';
const ORIGIN_FORM = new RegExp(`^(/|(?:/${SEGMENT})+/?)(?:\\?(${QUERY}))?$`);
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@\s]+)(\/.*|\?.*)?$/i;

/** The parsed target, or undefined when it is malformed. */
export function parseRequestTarget(target: string | undefined): RequestTarget | undefined {
  if (target === undefined) return undefined;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute) {
    const rest = absolute[2] ?? '/';
    const parsed = parseOriginForm(rest.startsWith('?') ? `/${rest}` : rest);
    return parsed && isAuthority(absolute[1]) ? { ...parsed, authority: absolute[1] } : undefined;
  }
  return parseOriginForm(target);
}

function parseOriginForm(target: string): RequestTarget | undefined {
  const m = ORIGIN_FORM.exec(target);
  if (!m) return undefined;
  return { pathname: m[1], query: new URLSearchParams(m[2] ?? '') };
}

/** A host (name, IPv4 or [IPv6]) with an optional port 0..65535, as `new URL` accepts it. */
function isAuthority(authority: string): boolean {
  try {
    return new URL(`http://${authority}`).host !== '';
  } catch {
    return false;
  }
}
