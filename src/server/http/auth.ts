/**
 * The api key check shared by HTTP requests and WebSocket upgrades: `Authorization: Bearer KEY`;
 * `?api_key=KEY` for browsers, which cannot set headers on a page load or a WebSocket; or the
 * cookie a page load with `?api_key=` receives, so the page's own scripts and styles pass too.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const COOKIE = 'multiverse_api_key';

/**
 * How a request proved it knows the key; undefined when it did not (or no key is set: 'none').
 * `query` is the request target's query. Total: a malformed cookie counts as no cookie.
 */
export function authorization(req: IncomingMessage, query: URLSearchParams, apiKey: string | undefined): 'none' | 'header' | 'query' | 'cookie' | undefined {
  if (apiKey === undefined) return 'none';
  const header = req.headers.authorization;
  const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  if (bearer !== undefined && sameSecret(bearer, apiKey)) return 'header';
  const inQuery = query.get('api_key');
  if (inQuery !== null && sameSecret(inQuery, apiKey)) return 'query';
  const cookie = cookieValue(req.headers.cookie, COOKIE);
  if (cookie !== undefined && sameSecret(cookie, apiKey)) return 'cookie';
  return undefined;
}

/** True when no key is configured, or the request carries it. */
export function isAuthorized(req: IncomingMessage, query: URLSearchParams, apiKey: string | undefined): boolean {
  return authorization(req, query, apiKey) !== undefined;
}

/** Lets a browser that proved the key once (in the URL) load the rest of the page without it. */
export function rememberKey(res: ServerResponse, apiKey: string): void {
  res.setHeader('set-cookie', `${COOKIE}=${encodeURIComponent(apiKey)}; Path=/; HttpOnly; SameSite=Strict`);
}

/** The first cookie called `name`, %-decoded; undefined when absent or its escapes are malformed. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeOrUndefined(part.slice(eq + 1).trim());
  }
  return undefined;
}

function decodeOrUndefined(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** Compares digests, so neither the time taken nor a length check reveals the key. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
