/**
 * Who may reach the server from a browser. A web page can send requests to any address its
 * visitor's machine can reach, so two checks run on every HTTP request and WebSocket upgrade
 * before the api key is looked at:
 * - `Origin` (sent by browsers, never by curl or the openai package): the server's own origin
 *   (the viewer's page) and the origins of `allowOrigins` pass, every other one is refused. A
 *   request without the header passes.
 * - `Host`, when the server is bound to a loopback address: it must name a loopback address
 *   (`localhost`, `127.x.x.x`, `[::1]`), so a page whose DNS name was rebound to 127.0.0.1 cannot
 *   read the answers (DNS rebinding).
 * Allowed cross-origin requests get CORS headers, and `OPTIONS` preflights are answered here.
 */
import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestTarget } from './request-target.js';

export interface ExposureOptions {
  /** The interface the server binds; a loopback one turns the Host check on. */
  host: string;
  /** Origins (`https://app.example:8443`) that may call the server from a browser besides its own. */
  allowOrigins: readonly string[];
}

export interface Refusal {
  code: 'origin_not_allowed' | 'host_not_allowed';
  message: string;
}

/** The methods the routes take, granted to allowed preflights; a grant is cached this long. */
const PREFLIGHT_METHODS = 'GET, POST, OPTIONS';
const PREFLIGHT_MAX_AGE_S = '600';

/** Why the request must be refused (403), or undefined when it may go on. */
export function exposureRefusal(req: IncomingMessage, target: RequestTarget, options: ExposureOptions): Refusal | undefined {
  const host = target.authority ?? req.headers.host;
  if (isLoopback(options.host) && host !== undefined && !isLoopback(hostName(host))) {
    return { code: 'host_not_allowed', message: `Host ${JSON.stringify(host)} is not a loopback name; this server is bound to ${options.host} and answers only localhost, 127.0.0.1 or [::1]` };
  }
  const origin = req.headers.origin;
  if (origin === undefined || isSameOrigin(origin, host) || options.allowOrigins.includes(origin)) return undefined;
  return { code: 'origin_not_allowed', message: `requests from the web page at ${JSON.stringify(origin)} are not allowed; start the server with --allow-origin ${origin} (option allowOrigins) to allow them` };
}

/** CORS headers for a request from one of `allowOrigins` (none for the server's own origin or no Origin). */
export function setCorsHeaders(req: IncomingMessage, res: ServerResponse, options: ExposureOptions): void {
  res.setHeader('vary', 'Origin');
  const origin = req.headers.origin;
  if (origin !== undefined && options.allowOrigins.includes(origin)) res.setHeader('access-control-allow-origin', origin);
}

/** Answers an `OPTIONS` request that passed exposureRefusal: 204, with the CORS grant when it is a preflight. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('allow', PREFLIGHT_METHODS);
  if (res.hasHeader('access-control-allow-origin')) {
    res.setHeader('access-control-allow-methods', PREFLIGHT_METHODS);
    res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'authorization, content-type');
    res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE_S);
  }
  res.writeHead(204);
  res.end();
}

/**
 * Checks an allowOrigins entry: a serialized origin as browsers send it.
 * @returns the rule it breaks, or undefined when it is one.
 */
export function originRule(origin: unknown): string | undefined {
  const rule = `must be origins like https://app.example:8443 (scheme, host, optional port; nothing after), got ${JSON.stringify(origin)}`;
  if (typeof origin !== 'string') return rule;
  try {
    return new URL(origin).origin === origin ? undefined : rule;
  } catch {
    return rule;
  }
}

/** The Origin names the host the request was sent to: the page came from this server. */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

/** `localhost`, 127.0.0.0/8, ::1 and ::ffff:127.x.x.x, bracketed or not. */
export function isLoopback(name: string): boolean {
  const bare = name.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) !== 6) return false;
  try {
    // The URL parser writes every IPv6 address in one canonical form.
    const canonical = new URL(`http://[${bare}]`).hostname;
    return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
  } catch {
    return false; // a zone id (fe80::1%eth0) is no loopback address
  }
}

/** The name part of a Host header value: `[::1]:8080` → `[::1]`, `localhost:80` → `localhost`. */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}
