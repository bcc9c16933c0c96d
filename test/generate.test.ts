/**
 * The public generate() Observable on a tiny model: greedy output equals the dense reference's
 * argmax chain, concurrent requests share steps without changing results, cancellation and bad
 * requests free their KV, and one failing request never disturbs another.
 */
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationError, loadModel, type DoneEvent, type GenerationEvent, type Model } from '../src/index.js';
import { denseForward } from './reference/dense-forward.js';
import { tinyModel } from './support/models.js';
import { loadForReference, range } from './support/oracle.js';

const PROMPT = [10, 20, 30, 40, 50, 60];

function argmax(row: Float64Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

async function run(model: Model, input: number[] | string, options = {}): Promise<GenerationEvent[]> {
  return lastValueFrom(model.events(input, options).pipe(toArray()));
}

function done(events: GenerationEvent[]): DoneEvent {
  const last = events.at(-1)!;
  expect(last.type).toBe('done');
  return last as DoneEvent;
}

async function settle(model: Model): Promise<void> {
  // Releases happen between steps; one idle turn is enough once nothing is queued.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await model.loop.whenIdle();
  await new Promise((r) => setImmediate(r));
}

describe('generate()', () => {
  let model: Model;
  let greedy: number[];

  beforeAll(async () => {
    const dir = tinyModel('qwen2', 'F32');
    model = await loadModel(dir, { kvSlots: 256, contextLength: 128, maxStepTokens: 16 });
    // Oracle: greedy decoding with the dense float64 reference.
    const ref = await loadForReference(dir);
    const seq = [...PROMPT];
    greedy = [];
    for (let i = 0; i < 8; i++) {
      const logits = denseForward(ref.checkpoint.config, ref.weights, seq, range(0, seq.length), (q, k) => k <= q);
      const next = argmax(logits.at(-1)!);
      greedy.push(next);
      seq.push(next);
    }
  });
  afterAll(() => model.dispose());

  it('greedy decoding equals the dense reference argmax chain', async () => {
    const events = await run(model, PROMPT, { temperature: 0, maxTokens: 8, ignoreEos: true });
    const d = done(events);
    expect(d.tokenIds).toEqual(greedy);
    expect(events.filter((e) => e.type === 'token').map((e) => (e.type === 'token' ? e.tokenId : -1))).toEqual(greedy);
    expect(d.finishReason).toBe('length');
    expect(d.usage).toEqual({ promptTokens: 6, completionTokens: 8, totalTokens: 14, criticalPathTokens: 8 });
    expect(events.every((e) => e.branch === '0')).toBe(true);
    expect(model.kvStats().freeSlots).toBe(256);
  });

  it('is cold: nothing runs until subscribed', async () => {
    const before = model.loop.steps;
    const obs = model.events(PROMPT, { maxTokens: 2 });
    await settle(model);
    expect(model.loop.steps).toBe(before);
    await lastValueFrom(obs);
  });

  it('runs concurrent requests in shared steps with unchanged results', async () => {
    const before = model.loop.steps;
    const all = await Promise.all([1, 2, 3].map(() => run(model, PROMPT, { temperature: 0, maxTokens: 8, ignoreEos: true })));
    for (const events of all) expect(done(events).tokenIds).toEqual(greedy);
    // Three requests of 1 prefill + 7 decode steps each, batched: far fewer than 24 steps.
    expect(model.loop.steps - before).toBeLessThanOrEqual(9);
  });

  it('reproduces a sampled run from its seed, and reports top logprobs', async () => {
    const opts = { temperature: 1, maxTokens: 10, seed: 1234, topLogprobs: 3, ignoreEos: true };
    const a = await run(model, PROMPT, opts);
    const b = await run(model, PROMPT, opts);
    expect(done(a).tokenIds).toEqual(done(b).tokenIds);
    expect(done(a).seed).toBe(1234);
    for (const e of a) {
      if (e.type !== 'token') continue;
      const top = Object.values(e.topLogprobs!);
      expect(top).toHaveLength(3);
      expect(top.every((lp) => lp <= 0)).toBe(true);
      expect(e.logprob).toBeLessThanOrEqual(Math.max(...top) + 1e-6);
    }
  });

  it('stops at a stop token and leaves it out of the output', async () => {
    const events = await run(model, PROMPT, { temperature: 0, maxTokens: 8, stopTokenIds: [greedy[3]] });
    const firstStop = greedy.indexOf(greedy[3]);
    expect(done(events).tokenIds).toEqual(greedy.slice(0, firstStop));
    expect(done(events).finishReason).toBe('stop');
  });

  it('stops at a stop string, and the text ends before it', async () => {
    const full = done(await run(model, PROMPT, { temperature: 0, maxTokens: 8, ignoreEos: true })).text;
    const cut = Math.floor(full.length / 2);
    const stop = full.slice(cut, cut + 2);
    const d = done(await run(model, PROMPT, { temperature: 0, maxTokens: 8, ignoreEos: true, stop: [stop] }));
    expect(d.finishReason).toBe('stop');
    expect(d.text).toBe(full.slice(0, full.indexOf(stop)));
  });

  it('frees the KV when unsubscribed mid-decode', async () => {
    await firstValueFrom(model.events(PROMPT, { maxTokens: 50, ignoreEos: true }).pipe(take(3), toArray()));
    await settle(model);
    model.engine.checkIntegrity();
    expect(model.kvStats().freeSlots).toBe(256);
    expect(model.kvStats().sequences).toBe(0);
  });

  it('frees the KV when unsubscribed mid-prefill', async () => {
    // 100 tokens at 16 per step: the prefill spans several steps.
    const sub = model.events(Array(100).fill(7), { maxTokens: 5 }).subscribe();
    while (model.loop.tokensStepped === 0 || model.kvStats().freeSlots === 256) await new Promise((r) => setImmediate(r));
    expect(model.kvStats().freeSlots).toBeGreaterThan(256 - 100);
    sub.unsubscribe();
    await settle(model);
    model.engine.checkIntegrity();
    expect(model.kvStats().freeSlots).toBe(256);
  });

  it('fails a prompt longer than the context alone, while another request completes', async () => {
    const good = run(model, PROMPT, { temperature: 0, maxTokens: 8, ignoreEos: true });
    const err = await run(model, Array(200).fill(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationError);
    expect((err as GenerationError).code).toBe('CONTEXT_OVERFLOW');
    expect((err as Error).message).toMatch(/200 tokens/);
    expect(done(await good).tokenIds).toEqual(greedy);
  });

  it('rejects bad input and options with INVALID_REQUEST', async () => {
    for (const [input, options] of [
      [[1, 2, 99999], {}],
      [[], {}],
      [PROMPT, { temperature: -1 }],
      [PROMPT, { maxTokens: 0 }],
      [PROMPT, { stop: [''] }],
    ] as const) {
      const err = await run(model, input as number[], options).catch((e: unknown) => e);
      expect((err as GenerationError).code).toBe('INVALID_REQUEST');
    }
    expect(model.kvStats().freeSlots).toBe(256);
  });
});

describe('a KV pool too small for two requests at once', () => {
  it('admits the second when the first has ended; both complete and the pool is free after', async () => {
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 64, contextLength: 64 });
    // 30 + 20 tokens and 40 + 5 tokens cannot share 64 slots: the second waits for the first.
    const first = run(model, Array(30).fill(5), { temperature: 0, maxTokens: 20, ignoreEos: true });
    const second = run(model, Array(40).fill(6), { temperature: 0, maxTokens: 5, ignoreEos: true });
    const [a, b] = await Promise.all([first, second]);
    expect(done(a).usage.completionTokens).toBe(20);
    expect(done(b).usage.completionTokens).toBe(5);
    expect(done(a).stats.queueWaitMs).toBe(0);
    expect(done(b).stats.queueWaitMs).toBeGreaterThan(0);
    // Run alone, the second request gives the same tokens: waiting changed nothing but when.
    expect(done(await run(model, Array(40).fill(6), { temperature: 0, maxTokens: 5, ignoreEos: true })).tokenIds).toEqual(done(b).tokenIds);
    await settle(model);
    model.engine.checkIntegrity();
    expect(model.kvStats().freeSlots).toBe(64);
    await model.dispose();
  });
});

describe('dispose()', () => {
  it('fails a running request with MODEL_DISPOSED', async () => {
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 64, contextLength: 64 });
    const pending = run(model, PROMPT, { maxTokens: 40, ignoreEos: true }).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    await model.dispose();
    expect(((await pending) as GenerationError).code).toBe('MODEL_DISPOSED');
    expect(() => model.engine.kvStats()).toThrow(/disposed/);
  });
});
