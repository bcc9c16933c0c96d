/**
 * The conventions of the Node ecosystem on every generating call: misspelled options throw a
 * TypeError naming them; `signal` aborts like unsubscribing (KV back to free, an AbortError);
 * `complete()` resolves with the whole result and `stream()` iterates the events, both built on
 * the same request as `events()`.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, shippedModelDir, type DoneEvent, type GenerationEvent, type Model } from '../src/index.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree } from './support/pool.js';

/** A request that cannot end on its own before it is aborted: 400 tokens, end-of-sequence ignored. */
const LONG = { maxTokens: 400, ignoreEos: true, temperature: 0 } as const;

describe('generating calls', () => {
  let tiny: Model;
  let shipped: Model;
  beforeAll(async () => {
    [tiny, shipped] = await Promise.all([
      loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024 }),
      loadModel(shippedModelDir(), { kvSlots: 4096, contextLength: 1024 }),
    ]);
  });
  afterAll(async () => {
    await tiny.dispose();
    await shipped.dispose();
  });

  describe('option keys', () => {
    it('an unknown key throws a TypeError naming it when the call is made, on every call', () => {
      const bad = { max_tokens: 5 } as never;
      expect(() => tiny.events([1, 2], bad)).toThrow(TypeError);
      expect(() => tiny.events([1, 2], bad)).toThrow(/options\.max_tokens is not an option \(known: maxTokens,/);
      expect(() => tiny.generate([1, 2], bad)).toThrow(/max_tokens/);
      expect(() => tiny.session([1, 2], bad, () => [])).toThrow(/max_tokens/);
      expect(() => tiny.stream([1, 2], bad)).toThrow(/max_tokens/);
      expect(() => tiny.complete([1, 2], bad)).toThrow(/max_tokens/);
      expect(() => tiny.events([1, 2], { multiverse: { maxdepth: 2 } } as never)).toThrow(/options\.multiverse\.maxdepth is not an option/);
    });

    it('a value of the wrong type throws a TypeError naming the option', () => {
      expect(() => tiny.events([1, 2], { signal: 'stop' } as never)).toThrow(/options\.signal must be an AbortSignal/);
      expect(() => tiny.events([1, 2], { maxTokens: '5' } as never)).toThrow(/options\.maxTokens must be of type number/);
      expect(() => tiny.events([1, 2], { stop: ['a', 1] } as never)).toThrow(/options\.stop must be of type string\[\]/);
    });
  });

  describe('signal', () => {
    it('aborting mid-generation errors with AbortError and frees the KV', async () => {
      const controller = new AbortController();
      const seen: GenerationEvent[] = [];
      const ended = new Promise<unknown>((resolve) =>
        tiny.events([1, 2, 3], { ...LONG, signal: controller.signal }).subscribe({
          next: (e) => {
            seen.push(e);
            if (seen.length === 3) controller.abort();
          },
          error: resolve,
          complete: () => resolve('completed'),
        }),
      );
      const error = (await ended) as Error;
      expect(error.name).toBe('AbortError');
      expect(seen.filter((e) => e.type === 'token').length).toBeLessThan(LONG.maxTokens);
      await expectPoolFree(tiny);
    });

    it('the signal’s own reason is the error when it is one', async () => {
      const controller = new AbortController();
      const reason = new Error('user left');
      const before = tiny.loop.tokensStepped;
      const running = tiny.complete([1, 2, 3], { ...LONG, signal: controller.signal });
      while (tiny.loop.tokensStepped - before < 10) await new Promise((r) => setImmediate(r));
      controller.abort(reason);
      await expect(running).rejects.toBe(reason);
      await expectPoolFree(tiny);
    });

    it('an already aborted signal rejects at once without stepping anything', async () => {
      const before = tiny.loop.tokensStepped;
      await expect(tiny.complete([1, 2, 3], { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
      await expect(lastValueFrom(tiny.generate([1, 2, 3], { signal: AbortSignal.abort() }))).rejects.toMatchObject({ name: 'AbortError' });
      expect(tiny.loop.tokensStepped).toBe(before);
      await expectPoolFree(tiny);
    });
  });

  describe('complete()', () => {
    it('resolves with the text, tokens, usage and stats of the done event and the branch tree', async () => {
      const prompt = 'Compute 37*4+12*9';
      const events = await lastValueFrom(shipped.events(prompt, { temperature: 0 }).pipe(toArray()));
      const done = events.at(-1) as DoneEvent;
      const c = await shipped.complete(prompt, { temperature: 0 });
      expect(c.text).toBe(done.text);
      expect(c.text.endsWith(`Answer: ${37 * 4 + 12 * 9}`)).toBe(true);
      expect(c.tokens).toEqual(done.tokenIds);
      expect(c.usage).toEqual(done.usage);
      expect(c.finishReason).toBe('stop');
      expect(c.stats.forks).toBe(1);
      // The tree: one fork of two paths, labelled from the outlines, whose texts sit in the transcript.
      expect(c.tree.text).toBe(c.text);
      expect(c.tree.forks).toHaveLength(1);
      const paths = c.tree.forks[0].paths;
      expect(paths.map((p) => [p.label, p.outline])).toEqual([
        ['1', '37*4'],
        ['2', '12*9'],
      ]);
      expect(paths[0].text).toContain(`37*4=30*4+7*4=120+28=${37 * 4}`);
      for (const p of paths) expect(c.text).toContain(p.text);
      expect(c.tree.tokens).toBe(done.usage.completionTokens);
    });
  });

  describe('stream()', () => {
    it('iterates the same events as events()', async () => {
      const expected = await lastValueFrom(tiny.events([5, 6, 7], { maxTokens: 20, seed: 3 }).pipe(toArray()));
      const got: GenerationEvent[] = [];
      for await (const e of tiny.stream([5, 6, 7], { maxTokens: 20, seed: 3 })) got.push(e);
      expect(got).toEqual(expected);
    });

    it('breaking out of the loop cancels the request and frees the KV', async () => {
      let tokens = 0;
      for await (const e of tiny.stream([1, 2, 3], LONG)) if (e.type === 'token' && ++tokens === 5) break;
      expect(tokens).toBe(5);
      await expectPoolFree(tiny);
    });

    it('throws the request’s error from the loop', async () => {
      const loop = async () => {
        for await (const e of tiny.stream([1, 2, 3], { maxTokens: 0 })) void e;
      };
      await expect(loop()).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    });
  });

  it('the pool is free after everything above', () => expectPoolFree(tiny));
});

