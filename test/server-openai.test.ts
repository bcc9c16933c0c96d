/**
 * The OpenAI-compatible HTTP API on a tiny model, driven by the official `openai` client unchanged
 * and by raw fetch for wire details: results equal the in-process API's, `n: 3` forks from one
 * prefill (the engine's tokens-stepped counter proves it), SSE framing, logprobs and echo against
 * model.score, stop strings, statuses and OpenAI's error shape, the viewer hook, and the api key
 * on HTTP and on WebSocket upgrades.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadModel, type DoneEvent, type Model } from '../src/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

const MESSAGES = [{ role: 'user' as const, content: 'Say something about forks and merges.' }];

async function expectFree(model: Model): Promise<void> {
  for (let i = 0; i < 20 && model.kvStats().sequences > 0; i++) await new Promise((r) => setTimeout(r, 10));
  model.engine.checkIntegrity();
  expect(model.kvStats()).toMatchObject({ freeSlots: model.kvStats().totalSlots, sequences: 0 });
}

/** One sample of a Prometheus text page. */
function metric(page: string, name: string): number {
  const line = page.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

/** SSE `data:` payloads of a response body, checking the framing on the way. */
function sseData(body: string): string[] {
  expect(body.endsWith('\n\n')).toBe(true);
  const events = body.slice(0, -2).split('\n\n');
  for (const e of events) expect(e.startsWith('data: ')).toBe(true);
  return events.map((e) => e.slice('data: '.length));
}

describe('OpenAI-compatible HTTP', () => {
  let model: Model;
  let server: MultiverseServer;
  let url: string;
  let client: OpenAI;

  const inProcess = async (options: object) =>
    (await lastValueFrom(model.events(MESSAGES, { temperature: 0, ...options }))) as DoneEvent;
  const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024 });
    server = createServer(model, { port: 0, modelId: 'tiny' });
    ({ url } = await server.listen());
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  it('binds to 127.0.0.1 by default', () => {
    expect(server.options.host).toBe('127.0.0.1');
    expect((server.http.address() as { address: string }).address).toBe('127.0.0.1');
  });

  it('answers a chat completion as the in-process API does', async () => {
    const done = await inProcess({ maxTokens: 12 });
    const res = await client.chat.completions.create({ model: 'tiny', messages: MESSAGES, max_tokens: 12, temperature: 0 });
    expect(res.object).toBe('chat.completion');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0].message).toMatchObject({ role: 'assistant', content: done.text });
    expect(res.choices[0].finish_reason).toBe(done.finishReason);
    const prompt = model.tokenizer.encode(model.tokenizer.applyChatTemplate(MESSAGES, { addGenerationPrompt: true }), { addSpecialTokens: false });
    expect(res.usage).toEqual({ prompt_tokens: prompt.length, completion_tokens: done.usage.completionTokens, total_tokens: prompt.length + done.usage.completionTokens });
    const tree = (res.choices[0] as unknown as { multiverse: { tree: { branch: string; text: string } } }).multiverse.tree;
    expect(tree).toMatchObject({ branch: '0', text: done.text, forks: [] });
    await expectFree(model);
  });

  it('streams a chat completion through the openai client: deltas add up to the text, usage last', async () => {
    const done = await inProcess({ maxTokens: 12 });
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: MESSAGES,
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(done.text);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0].finish_reason)).toEqual([done.finishReason]);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBe(done.usage.completionTokens);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('frames SSE as data lines ending with [DONE], the usage chunk just before it', async () => {
    const res = await post('/v1/chat/completions', { model: 'tiny', messages: MESSAGES, max_tokens: 4, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    // Sampling is unseeded here: the model may end before max_tokens; the usage must say which.
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    const finish = chunks.flatMap((c) => c.choices).find((c) => c.finish_reason)?.finish_reason;
    if (finish === 'length') expect(last.usage.completion_tokens).toBe(4);
    else expect(last.usage.completion_tokens).toBeLessThan(4);
    // Without include_usage there is no usage field at all.
    const plain = sseData(await (await post('/v1/chat/completions', { model: 'tiny', messages: MESSAGES, max_tokens: 2, stream: true })).text());
    expect(plain.slice(0, -1).every((d) => !('usage' in JSON.parse(d)))).toBe(true);
  });

  it('serves n: 3 as three branches of one prefill, as the engine counter shows', async () => {
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const before = await scrape();
    const long = [{ role: 'user' as const, content: 'fork '.repeat(40) }];
    const res = await client.chat.completions.create({ model: 'tiny', messages: long, n: 3, max_tokens: 8, temperature: 1, seed: 7, logprobs: true });
    const after = await scrape();
    expect(res.choices.map((c) => c.index).sort()).toEqual([0, 1, 2]);
    const P = res.usage!.prompt_tokens;
    expect(P).toBeGreaterThan(40);
    // The prompt is stepped once. A branch steps every token it emitted, but for the last one
    // when it ends by length (that token's KV is never needed); an end-of-sequence is not emitted.
    const emitted = res.choices.map((c) => c.logprobs!.content!.length);
    const perChoice = res.choices.map((c, i) => (c.finish_reason === 'length' ? emitted[i] - 1 : emitted[i]));
    const stepped = metric(after, 'multiverse_engine_tokens_stepped_total') - metric(before, 'multiverse_engine_tokens_stepped_total');
    expect(stepped).toBe(P + perChoice.reduce((a, b) => a + b, 0));
    // Prefilling per choice would have stepped the prompt three times.
    expect(stepped).toBeLessThan(2 * P);
    expect(res.usage!.completion_tokens).toBe(emitted.reduce((a, b) => a + b, 0));
    expect(metric(after, 'multiverse_forks_total') - metric(before, 'multiverse_forks_total')).toBe(1);
    // Three different samples of one prompt.
    expect(new Set(res.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    await expectFree(model);
  });

  it('streams n: 2 with every choice finishing once', async () => {
    const data = sseData(await (await post('/v1/chat/completions', { model: 'tiny', messages: MESSAGES, n: 2, max_tokens: 5, stream: true, seed: 3 })).text());
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const finished = chunks.flatMap((c) => c.choices.filter((ch: { finish_reason: string | null }) => ch.finish_reason)).map((ch: { index: number }) => ch.index);
    expect(finished.sort()).toEqual([0, 1]);
  });

  it('returns a Multiverse generation as its final text and branch tree; streamed deltas follow merge order', async () => {
    const scripts = {
      '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end',
      '0/0': ' a a a a a a</Path>',
      '0/1': ' b</Path>',
    };
    const eos = model.tokenizer.eosTokenIds[0];
    const forced = createServer(model, { port: 0, modelId: 'tiny', prepareOptions: (o) => ({ ...o, pickToken: forceScripts(model, scripts, eos).pickToken }) });
    const furl = (await forced.listen()).url;
    const done = (await lastValueFrom(model.events([1, 2], { maxTokens: 200, pickToken: forceScripts(model, scripts, eos).pickToken }))) as DoneEvent;
    const body = { model: 'tiny', prompt: [1, 2], max_tokens: 200 };
    const res = await (await fetch(`${furl}/v1/completions`, { method: 'POST', body: JSON.stringify(body) })).json();
    expect(res.choices[0].text).toBe(done.text);
    const { tree } = res.choices[0].multiverse;
    expect(tree.text).toBe(done.text);
    expect(tree.forks[0].paths.map((p: { label: string; text: string }) => [p.label, p.text])).toEqual([['1', '<Path>1: a a a a a a</Path>'], ['2', '<Path>2: b</Path>']]);
    const data = sseData(await (await fetch(`${furl}/v1/completions`, { method: 'POST', body: JSON.stringify({ ...body, stream: true }) })).text());
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    // Path 2 ends first, yet its text streams after path 1's, as in the transcript.
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(done.text);
    expect(chunks.at(-1).choices[0].multiverse.tree.forks[0].paths).toHaveLength(2);
    await forced.close();
  });

  it('reports chat logprobs with the chosen token first among the top ones when greedy', async () => {
    const res = await client.chat.completions.create({ model: 'tiny', messages: MESSAGES, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = res.choices[0].logprobs!.content!;
    expect(content).toHaveLength(6);
    for (const t of content) {
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.top_logprobs[0]).toMatchObject({ token: t.token, logprob: t.logprob });
      expect(t.top_logprobs[0].logprob).toBeGreaterThanOrEqual(t.top_logprobs[1].logprob);
      expect(t.bytes).toEqual([...Buffer.from(t.token)]);
    }
  });

  it('stops before a stop string', async () => {
    const full = (await inProcess({ maxTokens: 16 })).text;
    const stop = full.slice(6, 9);
    const res = await client.chat.completions.create({ model: 'tiny', messages: MESSAGES, max_tokens: 16, temperature: 0, stop });
    expect(res.choices[0].message.content).toBe(full.slice(0, full.indexOf(stop)));
    expect(res.choices[0].finish_reason).toBe('stop');
  });

  it('completes a raw prompt; echo with logprobs scores the prompt as model.score does', async () => {
    const prompt = 'forks and merges';
    const ids = model.tokenizer.encode(prompt);
    const scored = await model.score(prompt, { raw: true, topLogprobs: 2 });
    const res = await client.completions.create({ model: 'tiny', prompt, max_tokens: 5, temperature: 0, echo: true, logprobs: 2 });
    const done = (await lastValueFrom(model.events(prompt, { raw: true, temperature: 0, maxTokens: 5 }))) as DoneEvent;
    const choice = res.choices[0];
    expect(res.object).toBe('text_completion');
    expect(choice.text).toBe(prompt + done.text);
    const lp = choice.logprobs!;
    expect(lp.tokens).toHaveLength(ids.length + 5);
    expect(lp.token_logprobs![0]).toBeNull();
    lp.token_logprobs!.slice(1, ids.length).forEach((v, i) => expect(v).toBeCloseTo(scored.tokens[i + 1].logprob!, 5));
    expect(lp.text_offset![ids.length]).toBe(prompt.length);
    expect(Object.keys(lp.top_logprobs![ids.length]!)).toHaveLength(2);
  });

  it('defaults completions to 16 tokens and streams them', async () => {
    const data = sseData(await (await post('/v1/completions', { model: 'tiny', prompt: [5, 6, 7], stream: true, temperature: 0 })).text());
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const done = (await lastValueFrom(model.events([5, 6, 7], { temperature: 0, maxTokens: 16 }))) as DoneEvent;
    expect(done.usage.completionTokens).toBe(16);
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(done.text);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
  });

  it('lists the model, reports health and Prometheus metrics', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'ok', model: 'tiny' });
    const page = await (await fetch(`${url}/metrics`)).text();
    for (const name of ['multiverse_tokens_per_second', 'multiverse_live_sequences', 'multiverse_kv_slots_used', 'multiverse_kv_slots_free', 'multiverse_forks_total', 'multiverse_merges_total']) {
      expect(page).toContain(`# TYPE ${name} `);
    }
    expect(metric(page, 'multiverse_kv_slots_free')).toBe(2048);
    expect(page).toMatch(/^multiverse_requests_total\{source="chat"\} \d+$/m);
  });

  it('answers errors in OpenAI shape with their statuses', async () => {
    await expect(client.chat.completions.create({ model: 'tiny', messages: MESSAGES, temperature: 5 })).rejects.toMatchObject({ status: 400, param: 'temperature' });
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(client.chat.completions.create({ model: 'tiny', messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    const bad = await post('/v1/chat/completions', '{"model": "tiny", ');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_json' } });
    const big = await post('/v1/completions', { model: 'tiny', prompt: 'x'.repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/v1/chat/completions`)).status).toBe(405);
    const overflow = await post('/v1/completions', { model: 'tiny', prompt: Array(1024).fill(5) });
    expect(overflow.status).toBe(400);
    expect(await overflow.json()).toMatchObject({ error: { code: 'context_length_exceeded' } });
    await expectFree(model);
  });

  it('cancels a stream the client abandons and frees its KV', async () => {
    // Forced to write a token that is not the end of text, so the stream cannot finish by itself
    // before the client leaves (a sampled tiny model sometimes ended within the first chunks).
    const endless = createServer(model, { port: 0, modelId: 'tiny', prepareOptions: (o) => ({ ...o, pickToken: forceScripts(model, {}, 65).pickToken }) });
    const eurl = (await endless.listen()).url;
    const controller = new AbortController();
    const res = await fetch(`${eurl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: [1, 2, 3], max_tokens: 500, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    expect(model.kvStats().sequences).toBeGreaterThan(0);
    controller.abort();
    await expectFree(model);
    await endless.close();
  });

  it('serves the viewer folder at / when given, and nothing outside it', async () => {
    expect((await fetch(`${url}/`)).status).toBe(404);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-viewer-'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>viewer</title>');
    const viewer = createServer(model, { port: 0, modelId: 'tiny', viewerDir: dir });
    const { url: vurl } = await viewer.listen();
    const page = await fetch(`${vurl}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>viewer</title>');
    expect((await fetch(`${vurl}/%2e%2e/${path.basename(dir)}/index.html`)).status).toBe(404);
    await viewer.close();
  });
});

describe('an api key', () => {
  let model: Model;
  let server: MultiverseServer;
  let url: string;
  let wsUrl: string;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 256, contextLength: 128 });
    server = createServer(model, { port: 0, modelId: 'tiny', apiKey: 'sekret' });
    ({ url, wsUrl } = await server.listen());
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  it('refuses requests without the key with 401 and accepts it as bearer or query', async () => {
    const none = await fetch(`${url}/v1/models`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });
    expect((await fetch(`${url}/health`)).status).toBe(401);
    const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'guess', maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
    const right = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sekret', maxRetries: 0 });
    expect((await right.models.list()).data[0].id).toBe('tiny');
    expect((await fetch(`${url}/health?api_key=sekret`)).status).toBe(200);
  });

  it('refuses WebSocket upgrades without the key (401) and accepts it as bearer header or api_key query', async () => {
    const upgrade = (target: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(target, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => undefined);
      });
    expect(await upgrade(wsUrl)).toBe(401);
    expect(await upgrade(wsUrl, { authorization: 'Bearer nope' })).toBe(401);
    expect(await upgrade(wsUrl, { authorization: 'Bearer sekret' })).toBe(101);
    expect(await upgrade(`${wsUrl}?api_key=sekret`)).toBe(101);
  });

  it('fails a request the KV pool cannot hold with 429', async () => {
    // 100 prompt tokens fit the 128-token context; 16 branches of 20 tokens need 300 more slots than the 156 left.
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sekret', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: Array(100).fill(7), n: 16, max_tokens: 20 }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'KV_EXHAUSTED' } });
    await expectFree(model);
  });
});
