/**
 * The api key check shared by HTTP requests and WebSocket upgrades: `Authorization: Bearer KEY`,
 * or `?api_key=KEY` for browsers, which cannot set headers on a WebSocket or a page load.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** True when no key is configured, or the request carries it. */
export function isAuthorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  if (apiKey === undefined) return true;
  const header = req.headers.authorization;
  const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('api_key') ?? undefined;
  return [bearer, query].some((given) => given !== undefined && sameSecret(given, apiKey));
}

/** Compares digests, so neither the time taken nor a length check reveals the key. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
