/**
 * Admission over the wire: many wide streamed requests on a small KV pool all complete (they wait,
 * they do not fail mid-stream); a full admission queue is refused before any byte of a stream
 * (HTTP 429 with Retry-After, WebSocket OVERLOADED); queue figures reach /metrics and /health.
 */
import OpenAI from 'openai';
import { NEVER } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadModel, type Model } from '../src/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree } from './support/pool.js';
import { postJson } from './support/sse.js';

describe('admission over HTTP', () => {
  let model: Model;
  let server: MultiverseServer;
  let url: string;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 512, contextLength: 256, maxStepTokens: 64 });
    // Every choice runs to max_tokens, so each request needs its whole reservation.
    server = createServer(model, { port: 0, modelId: 'tiny', prepareOptions: (o) => ({ ...o, ignoreEos: true }) });
    ({ url } = await server.listen());
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  it('completes 20 concurrent streamed chat requests with n = 4 on a pool that holds two at a time', async () => {
    // A request reserves its prompt + 4 × (24 + 16) + 16 slots, about 200 of 512; together they would need ~4000.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
    const one = async (i: number) => {
      const stream = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: `request ${i}` }], n: 4, max_tokens: 24, stream: true, seed: i });
      const finish = new Map<number, string>();
      const text = new Map<number, string>();
      for await (const chunk of stream) {
        for (const c of chunk.choices) {
          text.set(c.index, (text.get(c.index) ?? '') + (c.delta?.content ?? ''));
          if (c.finish_reason) finish.set(c.index, c.finish_reason);
        }
      }
      return { finish, text };
    };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
    for (const { finish } of results) expect([...finish.entries()].sort()).toEqual([0, 1, 2, 3].map((i) => [i, 'length']));
    const admission = model.admissionStats();
    expect(admission.waited).toBeGreaterThanOrEqual(10);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^multiverse_admitted_total\{queued="yes"\} (\d+)$/m);
    expect(Number(/^multiverse_admitted_total\{queued="yes"\} (\d+)$/m.exec(metrics)![1])).toBe(admission.waited);
    expect(Number(/^multiverse_queue_wait_seconds_total (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(0);
    await expectPoolFree(model);
  });
});

describe('a full admission queue', () => {
  let model: Model;
  let server: MultiverseServer;
  let url: string;
  let wsUrl: string;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 256, contextLength: 256, maxQueuedRequests: 1 });
    server = createServer(model, { port: 0, modelId: 'tiny' });
    ({ url, wsUrl } = await server.listen());
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  /** Holds the pool with a session that never ends: 3 + 16 + 3 × (60 + 16) = 247 of 256 slots, until unsubscribed. */
  const holdPool = () => model.session([1, 2, 3], { maxTokens: 60 }, () => NEVER, { branches: 3 }).subscribe();

  const wsEvents = (messages: object[], until: (events: { type: string; id: unknown; code?: string }[]) => boolean) =>
    new Promise<{ type: string; id: unknown; code?: string }[]>((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      const events: { type: string; id: unknown; code?: string }[] = [];
      ws.on('open', () => messages.forEach((m) => ws.send(JSON.stringify(m))));
      ws.on('message', (data) => {
        events.push(JSON.parse(data.toString()));
        if (until(events)) {
          ws.close();
          resolve(events);
        }
      });
      ws.on('error', reject);
    });

  it('refuses with 429, Retry-After and OVERLOADED before any stream byte, and WebSocket OVERLOADED; the queued request completes', async () => {
    const hold = holdPool();
    await new Promise((r) => setTimeout(r, 20));
    expect(model.admissionStats()).toMatchObject({ running: 1, queued: 0 });
    // The one queue place goes to this stream; it sends nothing while it waits.
    const queued = postJson(`${url}/v1/completions`, { model: 'tiny', prompt: [4, 5, 6], max_tokens: 8, stream: true });
    for (let i = 0; i < 100 && model.admissionStats().queued === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(model.admissionStats().queued).toBe(1);

    const refused = await postJson(`${url}/v1/completions`, { model: 'tiny', prompt: [7, 8, 9], max_tokens: 8, stream: true });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toBe('application/json');
    expect(await refused.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'OVERLOADED' } });

    const ws = await wsEvents([{ type: 'generate', id: 'w', input: [7, 8, 9], options: { maxTokens: 8 } }], (es) => es.length > 0);
    expect(ws).toEqual([expect.objectContaining({ type: 'error', id: 'w', code: 'OVERLOADED' })]);

    hold.unsubscribe();
    const res = await queued;
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(body).not.toContain('"error"');
    const health = (await (await fetch(`${url}/health`)).json()) as { admission: { refused: number; queued: number } };
    expect(health.admission).toMatchObject({ refused: 2, queued: 0 });
    await expectPoolFree(model);
  });

  it('answers 429 KV_EXHAUSTED at once for a request larger than the whole pool', async () => {
    const res = await postJson(`${url}/v1/completions`, { model: 'tiny', prompt: [4, 5, 6], max_tokens: 100, n: 3, stream: true });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: { code: 'KV_EXHAUSTED', message: expect.stringMatching(/needs \d+ KV slots .* pool holds 256/) } });
    await expectPoolFree(model);
  });
});
