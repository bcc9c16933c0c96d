/**
 * The step loop against a fake engine (test/support/fake-engine.ts): which sequences go into one
 * native step, how a long prefill is cut into chunks and which logits come back, and what release
 * and a failed step do to queued and in-flight work.
 */
import { describe, expect, it } from 'vitest';
import { GenerationError } from '../src/engine/errors.js';
import { StepLoop } from '../src/engine/step-loop.js';
import { FAKE_VOCAB, FakeEngine, ticks } from './support/fake-engine.js';

const rowsOf = (out: Float32Array) => Array.from({ length: out.length / FAKE_VOCAB }, (_, i) => [...out.subarray(i * FAKE_VOCAB, i * FAKE_VOCAB + 3)]);

describe('StepLoop', () => {
  it('steps every waiting sequence in one native step, each resolved with its own rows', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 });
    const [a, b, c] = [engine.createSequence(), engine.createSequence(), engine.createSequence()];
    const results = await Promise.all([
      loop.run(a, [7, 8], [0, 1], 'last', 1),
      loop.run(b, [9], [5], 'all', 2),
      loop.run(c, [3, 4, 5], [2, 2, 3], 'none', 2),
    ]);
    expect(engine.steps).toHaveLength(1);
    expect(engine.steps[0].map((it) => it.seq).sort()).toEqual([a, b, c].sort());
    // Rows: [sequence, position, token] of the token each row follows.
    expect(rowsOf(results[0])).toEqual([[a, 1, 8]]);
    expect(rowsOf(results[1])).toEqual([[b, 5, 9]]);
    expect(results[2]).toHaveLength(0);
    expect(engine.slots(c).map((s) => s.position)).toEqual([2, 2, 3]);
    expect(loop.tokensStepped).toBe(6);
  });

  it('cuts a prefill longer than a step into chunks and asks for logits only where they are wanted', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 4 });
    const seq = engine.createSequence();
    const tokens = Array.from({ length: 10 }, (_, i) => 100 + i);
    const last = await loop.run(seq, tokens, tokens.map((_, i) => i), 'last');
    expect(engine.steps.map((s) => [s[0].tokens.length, s[0].logits])).toEqual([
      [4, 'none'],
      [4, 'none'],
      [2, 'last'],
    ]);
    expect(rowsOf(last)).toEqual([[seq, 9, 109]]);

    const other = engine.createSequence();
    const all = await loop.run(other, tokens, tokens.map((_, i) => 20 + i), 'all');
    expect(rowsOf(all)).toEqual(tokens.map((t, i) => [other, 20 + i, t]));
  });

  it('takes turns across requests: a wide request does not crowd a narrow one out of a step', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 4 });
    const wide = Array.from({ length: 6 }, () => engine.createSequence());
    const narrow = engine.createSequence();
    const runs = [...wide.map((s, i) => loop.run(s, [1], [i], 'last', 1)), loop.run(narrow, [2], [0], 'last', 2)];
    await Promise.all(runs);
    expect(engine.steps[0].map((it) => it.seq)).toContain(narrow);
    expect(engine.steps[0]).toHaveLength(4);
    expect(engine.steps.flat().map((it) => it.seq).sort((x, y) => x - y)).toEqual([...wide, narrow].sort((x, y) => x - y));
  });

  it('release drops queued work before it is stepped and frees the native sequence', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 });
    const [kept, dropped] = [engine.createSequence(), engine.createSequence()];
    let settled = false;
    void loop.run(dropped, [1], [0], 'last').finally(() => (settled = true));
    const out = loop.run(kept, [2], [0], 'last');
    loop.release(dropped);
    await out;
    await ticks();
    expect(engine.steps.flat().map((it) => it.seq)).toEqual([kept]);
    expect(engine.released).toEqual([dropped]);
    expect(engine.live).toEqual([kept]);
    expect(settled).toBe(false);
  });

  it('discards the rows of a sequence released while its step is in flight; the others get theirs', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 });
    const [a, b] = [engine.createSequence(), engine.createSequence()];
    let open!: () => void;
    engine.gate = new Promise((r) => (open = r));
    let settledA = false;
    void loop.run(a, [1], [0], 'last', 1).finally(() => (settledA = true));
    const outB = loop.run(b, [2], [0], 'last', 2);
    await ticks();
    expect(loop.busy).toBe(true);
    // The native release waits for the step; the loop forgets the job at once.
    loop.cancel(a);
    open();
    expect(rowsOf(await outB)).toEqual([[b, 0, 2]]);
    await ticks();
    expect(settledA).toBe(false);
    expect(engine.steps).toHaveLength(1);
  });

  it('fails every job of a native step that throws with ENGINE_ERROR, and goes on with later work', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 });
    const [a, b] = [engine.createSequence(), engine.createSequence()];
    engine.failWith = new Error('boom');
    const failed = await Promise.allSettled([loop.run(a, [1], [0], 'last'), loop.run(b, [1], [0], 'last')]);
    for (const f of failed) {
      expect(f.status).toBe('rejected');
      expect((f as PromiseRejectedResult).reason).toBeInstanceOf(GenerationError);
      expect((f as PromiseRejectedResult).reason).toMatchObject({ code: 'ENGINE_ERROR', message: expect.stringMatching(/boom/) });
    }
    engine.failWith = undefined;
    expect(rowsOf(await loop.run(a, [3], [0], 'last'))).toEqual([[a, 0, 3]]);
  });

  it('refuses work it cannot take: a second job for a sequence, mismatched positions, and anything after stop()', async () => {
    const engine = new FakeEngine();
    const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 });
    const a = engine.createSequence();
    const first = loop.run(a, [1], [0], 'last');
    await expect(loop.run(a, [2], [1], 'last')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(loop.run(engine.createSequence(), [1, 2], [0], 'last')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await first;
    const queued = loop.run(a, [2], [1], 'last');
    loop.stop();
    await expect(queued).rejects.toMatchObject({ code: 'MODEL_DISPOSED' });
    await expect(loop.run(a, [3], [2], 'last')).rejects.toMatchObject({ code: 'MODEL_DISPOSED' });
  });
});
