/**
 * A step's logits buffer is taken back after JavaScript drops its array (the native LogitsRecycler)
 * and written by a later step. Every step's rows, written into a recycled buffer that held rows of
 * another step and size, equal the dense float64 reference for that step's tokens; and an array a
 * caller still holds never changes while later steps run.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { NativeEngine, StepItem } from '../src/native/binding.js';
import { denseForward } from './reference/dense-forward.js';
import { causal, engineFor, expectLogitsClose, loadForReference, range } from './support/oracle.js';
import { tinyModel } from './support/models.js';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const PREFIX = [1, 2, 3, 4];
const modes = ['last', 'all', 'none', 'last', 'all'] as const;
const ownTokens = (i: number) => [10 + i, 20 + i, 30 + i];

/** Step i: a fork of the 4-token prefix takes 3 tokens of its own, asking for the rows of modes[i % 5]. */
async function step(engine: NativeEngine, prefix: number, i: number): Promise<Float32Array> {
  const [child] = engine.fork(prefix, 1);
  const item: StepItem = { seq: child, tokens: Int32Array.from(ownTokens(i)), positions: Int32Array.of(4, 5, 6), logits: modes[i % modes.length] };
  try {
    return await engine.step([item]);
  } finally {
    engine.release(child);
  }
}

describe('logits buffers taken back after collection', () => {
  it('give every later step its own rows, and never change under a holder', async () => {
    const { checkpoint, weights } = await loadForReference(tinyModel('qwen2', 'F32'));
    const { vocabSize } = checkpoint.config;
    // The reference rows step i asks for: its 3 tokens' (all), the last one's (last) or none.
    const want = (i: number): Float64Array[] => {
      const tokens = [...PREFIX, ...ownTokens(i)];
      const rows = denseForward(checkpoint.config, weights, tokens, range(0, tokens.length), causal).slice(PREFIX.length);
      const mode = modes[i % modes.length];
      return mode === 'all' ? rows : mode === 'last' ? rows.slice(-1) : [];
    };

    const engine = engineFor(checkpoint, 64);
    const prefix = engine.createSequence();
    await engine.step([{ seq: prefix, tokens: Int32Array.from(PREFIX), positions: Int32Array.from(range(0, PREFIX.length)), logits: 'none' }]);
    const held = await step(engine, prefix, 0);
    const heldThen = Float32Array.from(held);
    expectLogitsClose(held, want(0), vocabSize);
    for (let i = 1; i < 40; i++) {
      const got = await step(engine, prefix, i);
      const rows = want(i);
      if (rows.length === 0) expect(got.length, `step ${i}`).toBe(0);
      else expectLogitsClose(got, rows, vocabSize);
      // Dropped arrays are collected now and then, so their buffers come back between steps.
      if (i % 3 === 0) collectGarbage();
    }
    expect(Array.from(held)).toEqual(Array.from(heldThen));
    engine.dispose();
  });
});
