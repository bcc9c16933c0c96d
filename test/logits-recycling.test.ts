/**
 * A step's logits buffer is taken back after JavaScript drops its array (the native LogitsRecycler)
 * and written by a later step. The arrays a caller still holds never change, and every step's rows,
 * written into a recycled buffer of another size, equal the same step on a fresh engine.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { loadNative, type NativeEngine, type StepItem } from '../src/native/binding.js';
import { tinyModel } from './support/models.js';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const modes = ['last', 'all', 'none', 'last', 'all'] as const;

async function newEngine(): Promise<NativeEngine> {
  const ck = await openCheckpoint(tinyModel('qwen2', 'F32'));
  return new (loadNative().Engine)({ ...ck.config, kvSlots: 64, threads: 1, kernels: 'auto', tensors: ck.tensors });
}

/** Step i: a fork of the 4-token prefix takes 3 tokens of its own, asking for the rows of modes[i % 5]. */
async function step(engine: NativeEngine, prefix: number, i: number): Promise<Float32Array> {
  const [child] = engine.fork(prefix, 1);
  const item: StepItem = { seq: child, tokens: Int32Array.of(10 + i, 20 + i, 30 + i), positions: Int32Array.of(4, 5, 6), logits: modes[i % modes.length] };
  try {
    return await engine.step([item]);
  } finally {
    engine.release(child);
  }
}

async function withPrefix(engine: NativeEngine): Promise<number> {
  const prefix = engine.createSequence();
  await engine.step([{ seq: prefix, tokens: Int32Array.of(1, 2, 3, 4), positions: Int32Array.of(0, 1, 2, 3), logits: 'none' }]);
  return prefix;
}

describe('logits buffers taken back after collection', () => {
  it('never change under a holder and give every later step its own rows', async () => {
    const fresh = await newEngine();
    const freshPrefix = await withPrefix(fresh);
    const want: Float32Array[] = [];
    for (let i = 0; i < 40; i++) want.push(Float32Array.from(await step(fresh, freshPrefix, i)));
    fresh.dispose();

    const engine = await newEngine();
    const prefix = await withPrefix(engine);
    const held = await step(engine, prefix, 0);
    for (let i = 1; i < 40; i++) {
      const got = await step(engine, prefix, i);
      expect(got.length, `step ${i}`).toBe(want[i].length);
      expect(Array.from(got), `step ${i}`).toEqual(Array.from(want[i]));
      // Dropped arrays are collected now and then, so their buffers come back between steps.
      if (i % 3 === 0) collectGarbage();
    }
    expect(Array.from(held)).toEqual(Array.from(want[0]));
    engine.dispose();
  });
});
