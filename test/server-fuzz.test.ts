/**
 * No request can crash the server: `multiverse serve --api-key` runs as a child process on the tiny
 * model, and raw sockets to 127.0.0.1 send it the request targets and cookies that once killed it
 * (a malformed target on a WebSocket upgrade, `multiverse_api_key=%E0`), then a few hundred
 * generated request lines, headers, cookies and upgrades in batches. After every case and every
 * batch the process must still run and answer /health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from './support/models.js';
import { getRequest, rawRequest, UPGRADE_HEADERS } from './support/raw-http.js';
import { isRunning, serve, type Served } from './support/serve.js';

const KEY = 'sekret';
/** Targets Node's parser lets through that are not valid origin-form or absolute-form targets. */
const MALFORMED_TARGETS = ['//', '//[', '//%', 'http://[/', '/\\', '/%', '/%zz', '//localhost/', '/v1/ws/%E0%', '/a//b', 'http://', 'http://x:99999/'];

let served: Served;
let port: number;

beforeAll(async () => {
  served = await serve(tinyModel('qwen2', 'F32'), ['--api-key', KEY]);
  port = Number(new URL(served.url).port);
});
afterAll(async () => {
  if (isRunning(served.child)) served.child.kill('SIGKILL');
  await served.exit;
});

/** The server process still runs and answers an ordinary keyed request. */
async function expectAlive(): Promise<void> {
  expect(isRunning(served.child), served.stderr()).toBe(true);
  const health = await fetch(`${served.url}/health`, { headers: { authorization: `Bearer ${KEY}` } });
  expect(health.status).toBe(200);
}

describe('malformed request targets', () => {
  it.each(MALFORMED_TARGETS)('%s: an upgrade gets HTTP/1.1 400 and its socket closed', async (target) => {
    const answer = await rawRequest(port, getRequest(target, { ...UPGRADE_HEADERS, Authorization: `Bearer ${KEY}` }));
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer.closedByServer).toBe(true);
    await expectAlive();
  });

  it.each(MALFORMED_TARGETS)('%s: plain HTTP gets 400 in OpenAI error shape', async (target) => {
    const answer = await rawRequest(port, getRequest(target, { Authorization: `Bearer ${KEY}` }));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_target' } });
    await expectAlive();
  });
});

describe('malformed cookies', () => {
  const cookies = [`multiverse_api_key=%E0`, `multiverse_api_key=%`, `multiverse_api_key=%${KEY}`, `a=%E0; multiverse_api_key=%zz`, `multiverse_api_key=${KEY}%E0`];

  it.each(cookies)('%s: an upgrade to /v1/ws is refused with 401, not a crash', async (cookie) => {
    const answer = await rawRequest(port, getRequest('/v1/ws', { ...UPGRADE_HEADERS, Cookie: cookie }));
    expect(answer.text).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(answer.closedByServer).toBe(true);
    await expectAlive();
  });

  it.each(cookies)('%s: plain HTTP gets 401', async (cookie) => {
    expect((await fetch(`${served.url}/v1/models`, { headers: { cookie } })).status).toBe(401);
    await expectAlive();
  });

  it('a malformed cookie beside the right key in the header does not hide the key', async () => {
    const res = await fetch(`${served.url}/v1/models`, { headers: { cookie: 'multiverse_api_key=%E0', authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(200);
  });
});

/** mulberry32: a small seeded generator, so a failing batch can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces that requests are assembled from: routes, escapes good and bad, separators, junk. */
const TARGET_PIECES = ['/', '//', '/v1/ws', '/v1/chat/completions', '/v1/completions', '/v1/models', '/health', '/metrics', '/dist/viewer/src/app.js', '/src/app.ts', '/tsconfig.json',
  '%', '%E0', '%zz', '%2e%2e', '%00', '%2F', '[', ']', '\\', '?', '?api_key=', KEY, '#', '..', '*', 'http://', 'https://[', ':', '@', ';', '~', '\u00e9', '%C3%A9', 'a'];
const ROUTES = ['/', '/v1/ws', '/v1/ws', '/v1/chat/completions', '/v1/completions', '/v1/models', '/v1/models/x', '/health', '/metrics', '/index.html', '/dist/viewer/src/app.js', '/tsconfig.json'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'OPTIONS', 'HEAD', 'PUT', 'DELETE', 'CONNECT', 'get'];
const HEADER_VALUES = ['', ' ', '%E0', '%', KEY, `Bearer ${KEY}`, `Bearer ${KEY}X`, 'Bearer', 'null', 'https://evil.example', 'http://127.0.0.1', 'evil.example', '127.0.0.1:1', '[::1]', 'websocket', 'Upgrade', '13', '99', '-1', '1e9', 'dGhlIHNhbXBsZSBub25jZQ==', '\u00ff\u00fe', '=;=;='];
const HEADER_NAMES = ['Origin', 'Origin', 'Cookie', 'Authorization', 'Upgrade', 'Connection', 'Sec-WebSocket-Version', 'Sec-WebSocket-Key', 'Accept', 'Content-Type', 'Access-Control-Request-Method', 'X-Junk'];

/** One generated request: a request line, some headers (sometimes a full upgrade set), sometimes a body. */
function generatedRequest(next: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const value = () => (next() < 0.1 ? `http://127.0.0.1:${port}` : pick(HEADER_VALUES)); // the server's own origin too
  // Half are routes the server knows (with a query or not), so the checks behind the target's form run too.
  const junk = () => Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(TARGET_PIECES)).join('');
  const target = next() < 0.5 ? `${pick(ROUTES)}${next() < 0.5 ? `?api_key=${junk()}` : ''}` : `${next() < 0.8 ? '/' : ''}${junk()}`;
  const headers: [string, string][] = [];
  if (next() < 0.95) headers.push(['Host', next() < 0.85 ? `127.0.0.1:${port}` : value()]);
  if (next() < 0.4) headers.push(...Object.entries(UPGRADE_HEADERS));
  for (let i = Math.floor(next() * 4); i > 0; i--) headers.push([pick(HEADER_NAMES), value()]);
  if (next() < 0.05) headers.push([pick(['Content-Length', 'Transfer-Encoding']), value()]);
  if (next() < 0.5) headers.push(['Cookie', `multiverse_api_key=${Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(TARGET_PIECES)).join('')}`]);
  if (next() < 0.5) headers.push(['Authorization', `Bearer ${next() < 0.5 ? KEY : value()}`]);
  const body = next() < 0.3 ? pick(['{}', '{"model":1}', '{"model":"x","prompt":"hi","max_tokens":1}', '[', 'null', '\u00ff']) : '';
  if (body) headers.push(['Content-Length', String(Buffer.byteLength(body, 'latin1'))]);
  const version = next() < 0.9 ? 'HTTP/1.1' : pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/0.9']);
  return `${pick(METHODS)} ${target} ${version}\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`;
}

describe('generated requests', () => {
  const BATCHES = 6;
  const PER_BATCH = 50;

  it(`${BATCHES} batches of ${PER_BATCH} leave the process up and answering`, async () => {
    const next = random(20261204);
    const statuses = new Map<number | undefined, number>();
    for (let batch = 0; batch < BATCHES; batch++) {
      const requests = Array.from({ length: PER_BATCH }, () => generatedRequest(next));
      // A whole batch in flight at once: a kept-alive socket waits out its 500 ms, so batches set the pace.
      const answers = await Promise.all(requests.map((r) => rawRequest(port, Buffer.from(r, 'latin1'), 500)));
      for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      await expectAlive();
    }
    // No generated request found a server fault.
    expect(statuses.get(500) ?? 0).toBe(0);
    expect([...statuses.keys()].filter((s) => s !== undefined && s >= 400 && s < 500).length).toBeGreaterThan(2);
  }, 120_000);
});
