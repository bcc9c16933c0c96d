/**
 * The server under stress at its edges: graceful shutdown (every request in flight gets exactly one
 * terminal event: done, or error SHUTTING_DOWN; WebSockets close with 1001; SSE ends with [DONE]),
 * and a WebSocket client that never reads (its requests stop at maxQueuedBytes, the close is 1008).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadModel, type Model } from '../src/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree, settled } from './support/pool.js';
import { postJson, sseData } from './support/sse.js';

interface WsOutcome {
  events: { type: string; id: unknown; code?: string }[];
  closeCode: number;
}

/** A WebSocket client that sends `messages`, resolves `started` at its first token, and records everything until the close. */
function wsClient(wsUrl: string, messages: object[]): { started: Promise<void>; outcome: Promise<WsOutcome> } {
  const ws = new WebSocket(wsUrl);
  const events: WsOutcome['events'] = [];
  let start!: () => void;
  const started = new Promise<void>((resolve) => (start = resolve));
  ws.on('open', () => messages.forEach((m) => ws.send(JSON.stringify(m))));
  ws.on('message', (data) => {
    const e = JSON.parse(data.toString());
    events.push(e);
    if (e.type === 'token') start();
  });
  const outcome = new Promise<WsOutcome>((resolve) => ws.on('close', (closeCode) => resolve({ events, closeCode })));
  return { started, outcome };
}

/** Terminal events of an SSE body: finish_reason chunks count per choice, error chunks and [DONE] apart. */
function sseTerminals(data: unknown[]): { finished: number; errors: string[]; done: number; last: unknown } {
  const chunks = data.filter((d): d is Record<string, unknown> => typeof d === 'object');
  return {
    finished: chunks.flatMap((c) => (c.choices as { finish_reason: string | null }[] | undefined) ?? []).filter((c) => c.finish_reason).length,
    errors: chunks.filter((c) => c.error).map((c) => (c.error as { code: string }).code),
    done: data.filter((d) => d === '[DONE]').length,
    last: data.at(-1),
  };
}

describe('graceful shutdown', () => {
  it('ends every request still running at the drain timeout with one SHUTTING_DOWN error; the finished ones keep their done', async () => {
    // 6 × 2019 reserved slots fit: nothing waits in the queue.
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 16384, contextLength: 2048 });
    const server = createServer(model, { port: 0, modelId: 'tiny', drainTimeoutMs: 100, prepareOptions: (o) => ({ ...o, ignoreEos: true }) });
    const { url, wsUrl } = await server.listen();
    const N = 4;
    // Long: 2000 tokens each cannot finish within the 100 ms drain. Short: 2 tokens finish within it.
    const http = Array.from({ length: N }, (_, i) => postJson(`${url}/v1/completions`, { model: 'tiny', prompt: [i + 1, 2, 3], max_tokens: i < N - 1 ? 2000 : 2, stream: true }));
    const ws = Array.from({ length: N }, (_, i) => wsClient(wsUrl, [{ type: 'generate', id: i, input: [i + 1, 5, 6], options: { maxTokens: i < N - 1 ? 2000 : 2 } }]));
    const responses = await Promise.all(http);
    await Promise.all(ws.map((c) => c.started));

    await server.close();

    const kinds: string[] = [];
    for (const res of responses) {
      expect(res.status).toBe(200);
      const t = sseTerminals(await sseData(res));
      // Exactly one terminal event: a finish_reason or one SHUTTING_DOWN error; [DONE] once, last.
      expect(t.finished + t.errors.length).toBe(1);
      kinds.push(t.errors[0] ?? 'finished');
      expect([t.done, t.last]).toEqual([1, '[DONE]']);
    }
    expect(kinds).toEqual(['SHUTTING_DOWN', 'SHUTTING_DOWN', 'SHUTTING_DOWN', 'finished']);
    const outcomes = await Promise.all(ws.map((c) => c.outcome));
    for (const { events, closeCode } of outcomes) {
      const terminal = events.filter((e) => e.type === 'done' || e.type === 'error');
      expect(terminal).toHaveLength(1);
      expect(terminal[0].type === 'done' || terminal[0].code === 'SHUTTING_DOWN').toBe(true);
      expect(events.at(-1)).toBe(terminal[0]);
      expect(closeCode).toBe(1001);
    }
    // The three long requests of each kind were cut, the short ones finished.
    expect(outcomes.map((o) => o.events.at(-1)!.type)).toEqual(['error', 'error', 'error', 'done']);
    await expectPoolFree(model);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await model.dispose();
  });

  it('lets requests that finish within the drain timeout end normally, and refuses new WebSocket requests while draining', async () => {
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 4096, contextLength: 1024 });
    const server = createServer(model, { port: 0, drainTimeoutMs: 10_000, prepareOptions: (o) => ({ ...o, ignoreEos: true }) });
    const { wsUrl } = await server.listen();
    const ws = new WebSocket(wsUrl);
    const events: { type: string; id: unknown; code?: string }[] = [];
    ws.on('message', (data) => events.push(JSON.parse(data.toString())));
    const closed = new Promise<number>((resolve) => ws.on('close', resolve));
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(JSON.stringify({ type: 'generate', id: 'a', input: [1, 2, 3], options: { maxTokens: 200 } }));
    while (!events.some((e) => e.type === 'token')) await new Promise((r) => setTimeout(r, 2));
    const closing = server.close();
    ws.send(JSON.stringify({ type: 'generate', id: 'b', input: [1, 2, 3], options: { maxTokens: 5 } }));
    await closing;
    expect(await closed).toBe(1001);
    const terminal = events.filter((e) => e.type === 'done' || e.type === 'error').map((e) => [e.id, e.type, e.code]);
    expect(terminal).toEqual([
      ['b', 'error', 'SHUTTING_DOWN'],
      ['a', 'done', undefined],
    ]);
    await expectPoolFree(model);
    await model.dispose();
  });
});

describe('a WebSocket client that never reads', () => {
  let model: Model;
  let server: MultiverseServer;
  let wsUrl: string;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 16384, contextLength: 2048 });
    server = createServer(model, { port: 0, maxConcurrentRequests: 8, coalesceAboveBytes: 16 * 1024, maxQueuedBytes: 64 * 1024 });
    ({ wsUrl } = await server.listen());
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  it('loses its requests once buffered and held bytes pass maxQueuedBytes, and is closed with 1008', async () => {
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve) => ws.on('open', resolve));
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    // Stop reading: the server's writes pile up in the kernel buffers, then in its own.
    socket.pause();
    const closed = new Promise<number>((resolve) => ws.on('close', resolve));
    for (let id = 0; id < 8; id++) ws.send(JSON.stringify({ type: 'generate', id, input: [id + 1, 2, 3], options: { maxTokens: 2000, ignoreEos: true, topLogprobs: 20 } }));
    // 8 × 2000 tokens of ~700 bytes each (11 MB) would take far more than the buffers hold: the server must stop them.
    const deadline = Date.now() + 30_000;
    while (model.kvStats().sequences > 0 || model.loop.steps === 0) {
      if (Date.now() > deadline) throw new Error('the requests of a client that does not read were not stopped');
      await new Promise((r) => setTimeout(r, 10));
    }
    const metrics = await (await fetch(wsUrl.replace('ws:', 'http:').replace('/v1/ws', '/metrics'))).text();
    expect(metrics).toMatch(/^multiverse_requests_finished_total\{source="ws",outcome="cancelled"\} 8$/m);
    // Nothing more is generated for it.
    await settled(model);
    const steps = model.loop.steps;
    await new Promise((r) => setTimeout(r, 100));
    expect(model.loop.steps).toBe(steps);
    // Reading again, the client gets what was sent, then the close frame.
    socket.resume();
    expect(await closed).toBe(1008);
    await expectPoolFree(model);
  });
});
