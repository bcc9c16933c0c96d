/**
 * WebSocket protocol v1 against a tiny model with a raw `ws` client: events map 1:1 from
 * model.events, cancel and disconnect free the KV pool, broken frames fail alone with stable codes
 * while the connection and server stay up, ids and limits, heartbeat.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadModel, type GenerationEvent, type Model } from '../src/index.js';
import { type ServerEvent } from '../src/protocol/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';
import { settled } from './support/pool.js';

const SCRIPTS = {
  '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end',
  '0/0': ' a a a</Path>',
  '0/1': ' b b b b b</Path>',
};

/** A raw client that records every event and can wait for one. */
class Client {
  readonly events: ServerEvent[] = [];
  private waiters: { match: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void }[] = [];
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const e = JSON.parse(data.toString()) as ServerEvent;
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => !(w.match(e) && (w.resolve(e), true)));
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    const ws = new WebSocket(url, options);
    const client = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first event (already seen from index `from` on, or to come) that matches. */
  next(match: (e: ServerEvent) => boolean, from = 0): Promise<ServerEvent> {
    const seen = this.events.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** The event that ends request `id`: done or error, from index `from` on. */
  end(id: string | number, from = 0): Promise<ServerEvent> {
    return this.next((e) => e.id === id && (e.type === 'done' || e.type === 'error'), from);
  }

  of(id: string | number): ServerEvent[] {
    return this.events.filter((e) => e.id === id);
  }
}

/** Events without what differs run to run (timings). */
function comparable(e: GenerationEvent | ServerEvent): unknown {
  const { id: _id, ...rest } = e as ServerEvent;
  if (rest.type !== 'done') return rest;
  const { forkLatencyMs: _f, mergeLatencyMs: _m, ...stats } = rest.stats;
  return { ...rest, stats };
}

describe('WebSocket protocol v1', () => {
  let model: Model;
  let server: MultiverseServer;
  let wsUrl: string;
  let eos: number;

  const expectFree = async () => {
    for (let i = 0; i < 50 && model.kvStats().sequences > 0; i++) await new Promise((r) => setTimeout(r, 10));
    model.engine.checkIntegrity();
    expect(model.kvStats()).toMatchObject({ freeSlots: model.kvStats().totalSlots, sequences: 0 });
  };

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024, maxStepTokens: 16 });
    eos = model.tokenizer.eosTokenIds[0];
    server = createServer(model, { port: 0, maxConcurrentRequests: 3, maxMessageBytes: 4096, maxPayload: 64 * 1024, heartbeatMs: 150 });
    ({ wsUrl } = await server.listen());
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  it('streams the events of model.events, each tagged with the request id, fork and join included', async () => {
    const options = { maxTokens: 300, seed: 5 };
    const local = await lastValueFrom(model.events([9, 8, 7], { ...options, pickToken: forceScripts(model, SCRIPTS, eos).pickToken }).pipe(toArray()));
    // The same forcing on the server side (a pickToken hook cannot travel as JSON).
    const forced = createServer(model, { port: 0, prepareOptions: (o) => ({ ...o, pickToken: forceScripts(model, SCRIPTS, eos).pickToken }) });
    const c = await Client.open((await forced.listen()).wsUrl);
    c.send({ type: 'generate', id: 'a', input: [9, 8, 7], options });
    await c.end('a');
    const remote = c.of('a');
    expect(remote.every((e) => e.id === 'a')).toBe(true);
    expect(remote.map((e) => e.type)).toContain('fork');
    expect(remote.map(comparable)).toEqual(local.map(comparable));
    await forced.close();
    await expectFree();
  });

  it('cancels a request: a CANCELLED error ends it, its KV is freed, the connection goes on', async () => {
    const c = await Client.open(wsUrl);
    c.send({ type: 'generate', id: 1, input: [1, 2, 3], options: { maxTokens: 400, ignoreEos: true } });
    await c.next((e) => e.id === 1 && e.type === 'token');
    c.send({ type: 'cancel', id: 1 });
    expect(await c.end(1)).toMatchObject({ type: 'error', code: 'CANCELLED' });
    await expectFree();
    const reuse = c.events.length;
    c.send({ type: 'generate', id: 1, input: [1, 2, 3], options: { maxTokens: 3 } });
    expect((await c.end(1, reuse)).type).toBe('done');
    c.ws.close();
  });

  it('frees the KV of every request when a client disconnects mid-stream, and steps nothing more for them', async () => {
    const c = await Client.open(wsUrl);
    // 900 tokens each (both fit the pool at once): far from done when the client leaves, so only a cancel can end them now.
    for (const id of ['x', 'y']) c.send({ type: 'generate', id, input: 'hello', options: { maxTokens: 900, ignoreEos: true } });
    await c.next((e) => e.id === 'y' && e.type === 'token');
    expect(model.kvStats().sequences).toBe(2);
    c.ws.terminate();
    // The moment the server sees the close, both requests must be gone: at most the step in flight still runs.
    while (/^multiverse_ws_connections [1-9]/m.test(server.metrics.render())) await new Promise((r) => setImmediate(r));
    const steps = model.loop.steps;
    await settled(model);
    expect(model.kvStats().sequences).toBe(0);
    expect(model.loop.steps - steps).toBeLessThanOrEqual(1);
    await expectFree();
  });

  it('fails broken frames alone with stable codes; the connection and the server stay up', async () => {
    const c = await Client.open(wsUrl);
    const bad: [unknown, string, string | number | null][] = [
      ['{not json', 'BAD_MESSAGE', null],
      ['[1, 2]', 'BAD_MESSAGE', null],
      [{ type: 'generate', input: 'hi' }, 'BAD_MESSAGE', null],
      [{ type: 'launch', id: 'q1' }, 'BAD_MESSAGE', 'q1'],
      [{ type: 'generate', id: 'q2', input: 42 }, 'BAD_MESSAGE', 'q2'],
      [{ type: 'generate', id: 'q3', input: 'hi', options: { maxTokens: '5' } }, 'BAD_MESSAGE', 'q3'],
      [{ type: 'generate', id: 'q4', input: 'hi', options: { pickToken: 1 } }, 'BAD_MESSAGE', 'q4'],
      [{ type: 'generate', id: 'q5', input: 'hi', options: { maxTokens: 0 } }, 'INVALID_REQUEST', 'q5'],
      [{ type: 'cancel', id: 'nobody' }, 'UNKNOWN_ID', 'nobody'],
      [{ type: 'generate', id: 'q6', input: 'x'.repeat(5000) }, 'PAYLOAD_TOO_LARGE', null],
    ];
    for (const [message, code, id] of bad) {
      const before = c.events.length;
      c.send(message);
      const e = await c.next((e) => e.type === 'error', before);
      expect(e).toMatchObject({ type: 'error', code, id });
    }
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await c.next((e) => e.type === 'error' && e.message.includes('binary'))).toMatchObject({ code: 'BAD_MESSAGE', id: null });
    c.send({ type: 'generate', id: 'ok', input: 'hi', options: { maxTokens: 2 } });
    expect((await c.end('ok')).type).toBe('done');
    c.ws.close();
    const page = await (await fetch(`${wsUrl.replace('ws:', 'http:').replace('/v1/ws', '')}/metrics`)).text();
    expect(page).toMatch(/^multiverse_ws_errors_total\{code="BAD_MESSAGE"\} [1-9]/m);
  });

  it('closes a connection whose frame passes maxPayload, and keeps serving others', async () => {
    const c = await Client.open(wsUrl);
    c.send('x'.repeat(100 * 1024));
    expect(await c.closed).toBe(1009);
    const d = await Client.open(wsUrl);
    d.send({ type: 'generate', id: 1, input: 'hi', options: { maxTokens: 2 } });
    expect((await d.end(1)).type).toBe('done');
    d.ws.close();
  });

  it('rejects a duplicate id while the first runs, and requests over the limit', async () => {
    const c = await Client.open(wsUrl);
    const long = { maxTokens: 200, ignoreEos: true };
    c.send({ type: 'generate', id: 'd', input: 'hi', options: long });
    c.send({ type: 'generate', id: 'd', input: 'hi', options: long });
    expect(await c.next((e) => e.id === 'd' && e.type === 'error')).toMatchObject({ code: 'DUPLICATE_ID' });
    c.send({ type: 'generate', id: 'e', input: 'hi', options: long });
    c.send({ type: 'generate', id: 'f', input: 'hi', options: long });
    c.send({ type: 'generate', id: 'g', input: 'hi', options: long });
    expect(await c.end('g')).toMatchObject({ type: 'error', code: 'TOO_MANY_REQUESTS' });
    for (const id of ['d', 'e', 'f']) await c.next((e) => e.id === id && e.type === 'done');
    // The first 'd' ran to its end untouched by the duplicate.
    expect(c.of('d').filter((e) => e.type === 'token')).toHaveLength(200);
    c.ws.close();
    await expectFree();
  });

  it('terminates a client that stops answering pings', async () => {
    const alive = await Client.open(wsUrl);
    const silent = await Client.open(wsUrl, { autoPong: false });
    const t0 = Date.now();
    expect(await silent.closed).toBe(1006);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    alive.ws.close();
  });

  it('answers other paths on upgrade with 404', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl.replace('/v1/ws', '/elsewhere'));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(404);
  });
});
