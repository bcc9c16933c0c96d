/**
 * What a server exposes, and to whom, on the tiny model: the api key exactly (near misses on every
 * carrier are refused), Origin and Host checks on HTTP and WebSocket upgrades (a web page elsewhere,
 * DNS rebinding), CORS preflights, only the viewer's built files, and the same caps on every path
 * (the official `openai` client and the project's WebSocket client get the same refusals).
 */
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GenerationError, loadModel, type Model } from '../src/index.js';
import { connect, type MultiverseConnection } from '../src/client/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { exposureRefusal } from '../src/server/http/exposure.js';
import { parseRequestTarget } from '../src/server/http/request-target.js';
import { findLimitBreach } from '../src/server/request-limits.js';
import { tinyModel } from './support/models.js';
import { getRequest, rawRequest, UPGRADE_HEADERS } from './support/raw-http.js';

const KEY = 'sekret';
const VIEWER_DIR = path.resolve('viewer');

let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 256 });
});
afterAll(async () => {
  await model.dispose();
});

/** A server on a free loopback port, closed after the file's tests. */
const servers: MultiverseServer[] = [];
async function start(options: Parameters<typeof createServer>[1]): Promise<{ url: string; wsUrl: string; port: number }> {
  const server = createServer(model, { port: 0, modelId: 'tiny', ...options });
  servers.push(server);
  const address = await server.listen();
  return { ...address, port: address.port };
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** The status an upgrade gets: 101 when the handshake completes. */
function upgradeStatus(target: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(target, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => undefined);
  });
}

describe('the api key, exactly', () => {
  let url: string;
  let wsUrl: string;
  beforeAll(async () => {
    ({ url, wsUrl } = await start({ apiKey: KEY }));
  });

  // A check that accepted any string starting with the key, or the key in any case, passes one of these.
  const NEAR_MISSES = [`${KEY}X`, KEY.slice(0, -1), '', KEY.toUpperCase(), `x${KEY}`, `${KEY}${KEY}`];
  const carriers = {
    header: (key: string) => ({ path: '', headers: { authorization: `Bearer ${key}` } }),
    query: (key: string) => ({ path: `?api_key=${encodeURIComponent(key)}`, headers: {} }),
    cookie: (key: string) => ({ path: '', headers: { cookie: `multiverse_api_key=${encodeURIComponent(key)}` } }),
  };

  describe.each(Object.entries(carriers))('as %s', (_name, carry) => {
    it('the key itself passes HTTP and the upgrade', async () => {
      const { path: query, headers } = carry(KEY);
      expect((await fetch(`${url}/v1/models${query}`, { headers })).status).toBe(200);
      expect(await upgradeStatus(`${wsUrl}${query}`, headers)).toBe(101);
    });

    it.each(NEAR_MISSES)('%j is refused with 401 on HTTP and on the upgrade', async (key) => {
      const { path: query, headers } = carry(key);
      const res = await fetch(`${url}/v1/models${query}`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
      expect(await upgradeStatus(`${wsUrl}${query}`, headers)).toBe(401);
    });
  });

  it('the openai client with a near-miss key gets a 401 AuthenticationError', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: `${KEY}X`, maxRetries: 0 });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('Origin', () => {
  const EVIL = 'https://evil.example';
  const APP = 'https://app.example:8443';
  let url: string;
  let wsUrl: string;
  let port: number;
  beforeAll(async () => {
    ({ url, wsUrl, port } = await start({ allowOrigins: [APP] }));
  });

  const chat = (headers: Record<string, string>) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
    });

  it('refuses a WebSocket upgrade from another site with 403, and takes the own origin, an allowed one, and none', async () => {
    expect(await upgradeStatus(wsUrl, { origin: EVIL })).toBe(403);
    expect(await upgradeStatus(wsUrl, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(wsUrl, { origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await upgradeStatus(wsUrl, { origin: APP })).toBe(101);
    expect(await upgradeStatus(wsUrl)).toBe(101);
  });

  it('refuses a POST from another site with 403 before generating, and lets the own and allowed origins in', async () => {
    const stepped = model.loop.tokensStepped;
    const evil = await chat({ origin: EVIL });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(await evil.json()).toMatchObject({ error: { type: 'permission_error', code: 'origin_not_allowed' } });
    expect(model.loop.tokensStepped).toBe(stepped);

    expect((await chat({ origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    const app = await chat({ origin: APP });
    expect(app.status).toBe(200);
    expect(app.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('leaves clients that send no Origin alone: the openai package', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(res.choices).toHaveLength(1);
  });

  it('answers preflights: 204 with the CORS grant for an allowed origin, 403 without one for another', async () => {
    const preflight = (origin: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
    const allowed = await preflight(APP);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    const refused = await preflight(EVIL);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers an allowed preflight on a keyed server without the key (browsers send none on preflights)', async () => {
    const keyed = await start({ apiKey: KEY, allowOrigins: [APP] });
    const res = await fetch(`${keyed.url}/v1/models`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET' } });
    expect(res.status).toBe(204);
    expect((await fetch(`${keyed.url}/v1/models`, { headers: { origin: APP } })).status).toBe(401);
  });
});

describe('Host on a loopback server (DNS rebinding)', () => {
  let port: number;
  beforeAll(async () => {
    ({ port } = await start({}));
  });

  it.each(['evil.example', 'evil.example:8080', '192.0.2.1', '127.0.0.1.evil.example', '[::2]'])('refuses Host %s with 403 on HTTP and on the upgrade', async (host) => {
    const http = await rawRequest(port, getRequest('/health', { Host: host }));
    expect(http.status).toBe(403);
    expect(http.text).toContain('host_not_allowed');
    const upgrade = await rawRequest(port, getRequest('/v1/ws', { ...UPGRADE_HEADERS, Host: host }));
    expect(upgrade.text).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(upgrade.closedByServer).toBe(true);
  });

  it.each(['localhost', 'LOCALHOST:1', '127.0.0.1', '127.1.2.3:80', '[::1]:8080'])('answers Host %s', async (host) => {
    expect((await rawRequest(port, getRequest('/health', { Host: host }))).status).toBe(200);
    // The server keeps an upgraded socket open: stop listening once the 101 is in.
    expect((await rawRequest(port, getRequest('/v1/ws', { ...UPGRADE_HEADERS, Host: host }), 200)).status).toBe(101);
  });

  it('a server bound beyond loopback takes any Host, and still checks Origin', () => {
    const req = (headers: Record<string, string>) => ({ headers }) as Parameters<typeof exposureRefusal>[0];
    const target = parseRequestTarget('/health')!;
    expect(exposureRefusal(req({ host: 'models.example:8080' }), target, { host: '0.0.0.0', allowOrigins: [] })).toBeUndefined();
    expect(exposureRefusal(req({ host: 'models.example:8080', origin: 'http://models.example:8080' }), target, { host: '0.0.0.0', allowOrigins: [] })).toBeUndefined();
    expect(exposureRefusal(req({ host: 'models.example:8080', origin: 'https://evil.example' }), target, { host: '0.0.0.0', allowOrigins: [] })?.code).toBe('origin_not_allowed');
    expect(exposureRefusal(req({ host: 'evil.example' }), target, { host: 'localhost', allowOrigins: [] })?.code).toBe('host_not_allowed');
  });
});

describe('the viewer folder', () => {
  it('serves the built page, stylesheet and modules, and none of its sources or config', async () => {
    expect(fs.existsSync(path.join(VIEWER_DIR, 'dist', 'viewer', 'src', 'app.js'))).toBe(true);
    const { url } = await start({ viewerDir: VIEWER_DIR });
    const assets = ['/', '/index.html', '/style.css', '/dist/viewer/src/app.js', '/dist/viewer/src/connection.js', '/dist/src/rx/branch-tree.js', '/dist/src/engine/branch-path.js'];
    for (const asset of assets) {
      expect((await fetch(`${url}${asset}`)).status, asset).toBe(200);
    }
    const hidden = ['/tsconfig.json', '/tsconfig.shared.json', '/src/app.ts', '/src/connection.ts', '/dist/viewer/src/app.js.map', '/dist/src/rx/branch-tree.js.map', '/dist/src/rx/stages.js',
      '/dist/app.js', '/dist', '/dist/', '/src/', '/%2e%2e/package.json'];
    for (const source of hidden) {
      expect((await fetch(`${url}${source}`)).status, source).toBe(404);
    }
  });
});

describe('the same caps on WebSocket and HTTP', () => {
  let url: string;
  let remote: MultiverseConnection;
  let client: OpenAI;
  const MAX_TOKENS = 32;
  beforeAll(async () => {
    let wsUrl: string;
    ({ url, wsUrl } = await start({ maxTokens: MAX_TOKENS, maxDepth: 2, maxPathsPerFork: 3 }));
    remote = await connect(wsUrl);
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await remote.close();
  });

  /** The WebSocket request's error, or undefined when it completed. */
  const wsError = async (options: object) =>
    lastValueFrom(remote.events('hi', { maxTokens: 2, ...options })).then(
      () => undefined,
      (err: unknown) => err,
    );
  /** The chat request's error, or undefined when it completed. */
  const httpError = async (body: object) =>
    client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ...body } as never).then(
      () => undefined,
      (err: unknown) => err,
    );

  // Each row: the over-cap value on both paths, then the at-cap value that both accept.
  const CASES: { name: string; ws: object; http: object; param: string; atCap: [object, object] }[] = [
    { name: 'top logprobs', ws: { topLogprobs: 21 }, http: { logprobs: true, top_logprobs: 21 }, param: 'top_logprobs', atCap: [{ topLogprobs: 20 }, { logprobs: true, top_logprobs: 20 }] },
    { name: 'max tokens', ws: { maxTokens: MAX_TOKENS + 1 }, http: { max_tokens: MAX_TOKENS + 1 }, param: 'max_tokens', atCap: [{ maxTokens: MAX_TOKENS }, { max_tokens: MAX_TOKENS }] },
    { name: 'top_p 0', ws: { topP: 0 }, http: { top_p: 0 }, param: 'top_p', atCap: [{ topP: 1 }, { top_p: 1 }] },
    { name: 'top_p 1.5', ws: { topP: 1.5 }, http: { top_p: 1.5 }, param: 'top_p', atCap: [{ topP: 0.5 }, { top_p: 0.5 }] },
  ];

  it.each(CASES)('$name: refused on both paths, the field named; the cap itself passes both', async ({ ws, http, param, atCap }) => {
    const viaWs = await wsError(ws);
    expect(viaWs).toBeInstanceOf(GenerationError);
    expect(viaWs).toMatchObject({ code: 'INVALID_REQUEST' });
    const viaHttp = await httpError(http);
    expect(viaHttp).toBeInstanceOf(OpenAI.BadRequestError);
    expect(viaHttp).toMatchObject({ status: 400, param });
    // One rule: both messages state the same bound.
    const bound = (message: string) => message.slice(message.indexOf(' must be '));
    expect(bound((viaWs as Error).message)).toBe(bound((viaHttp as { error: { message: string } }).error.message));

    expect(await wsError(atCap[0])).toBeUndefined();
    expect(await httpError(atCap[1])).toBeUndefined();
  });

  it.each([
    [{ multiverse: { maxDepth: 3 } }, 'options.multiverse.maxDepth must be an integer 0..2, got 3'],
    [{ multiverse: { maxPathsPerFork: 1e6 } }, 'options.multiverse.maxPathsPerFork must be an integer 0..3, got 1000000'],
    [{ maxTotalTokens: 8 * MAX_TOKENS + 1 }, `options.maxTotalTokens must be an integer 1..${8 * MAX_TOKENS}, got ${8 * MAX_TOKENS + 1}`],
    [{ topLogprobs: 1e6 }, 'options.topLogprobs must be an integer 0..20, got 1000000'],
  ])('the WebSocket refuses %j, which HTTP cannot ask for', async (options, message) => {
    expect(await wsError(options)).toMatchObject({ code: 'INVALID_REQUEST', message });
    const [key, value] = Object.entries(options)[0];
    const atCap = typeof value === 'object' ? { [key]: { [Object.keys(value)[0]]: 2 } } : { [key]: 20 };
    expect(await wsError(atCap)).toBeUndefined();
  });

  it("the WebSocket refuses maxPathsPerFork 'auto' under a cap below its 64 paths, and the rule takes it at 64", async () => {
    expect(await wsError({ multiverse: { maxPathsPerFork: 'auto' } })).toMatchObject({
      code: 'INVALID_REQUEST',
      message: "options.multiverse.maxPathsPerFork must be an integer 0..3 ('auto' opens up to 64 paths, over this server's maxPathsPerFork), got \"auto\"",
    });
    const limits = { maxTokens: MAX_TOKENS, maxDepth: 2, maxPathsPerFork: 64, vocabSize: 512 };
    expect(findLimitBreach({ multiverse: { maxPathsPerFork: 'auto' } }, limits)).toBeUndefined();
    expect(findLimitBreach({ multiverse: { maxPathsPerFork: 'auto' } }, { ...limits, maxPathsPerFork: 63 })).toMatchObject({ option: 'multiverse.maxPathsPerFork', value: 'auto' });
  });

  it('the WebSocket refuses stop token ids outside the vocab', async () => {
    const vocab = model.checkpoint.config.vocabSize;
    expect(await wsError({ stopTokenIds: [0, vocab] })).toMatchObject({ code: 'INVALID_REQUEST', message: `options.stopTokenIds must be token ids 0..${vocab - 1}, got ${vocab}` });
    expect(await wsError({ stopTokenIds: [-1] })).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(await wsError({ stopTokenIds: [vocab - 1] })).toBeUndefined();
  });
});
