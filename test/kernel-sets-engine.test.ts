/**
 * The engine with each kernel set this CPU runs (forced), on a random model whose every dimension
 * leaves a remainder against the vector and tile widths: hidden 90, head dim 18, 5 query heads
 * sharing 1 KV head, intermediate 133, vocab 515. Logits against the dense float64 reference, for
 * f32, f16 and bf16 weights and with every loop split across threads; then the f16 KV cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightDtype } from '../src/model/config.js';
import { loadNative, type NativeEngine } from '../src/native/binding.js';
import { Prng } from '../src/testkit/prng.js';
import { denseForward } from './reference/dense-forward.js';
import { tinyModel } from './support/models.js';
import { causal, engineFor, expectLogitsClose, loadForReference, range, type Loaded } from './support/oracle.js';

// Rows left over after 4-row tiles: 2 (hidden), 1 (intermediate), 3 (vocab); columns left over after
// 8 or 16 lanes: 90, 133 and 18 all leave some.
const ODD = { hiddenSize: 90, numHeads: 5, numKvHeads: 1, intermediateSize: 133, vocabSize: 515 };
const SETS = loadNative().kernelSets();
const DTYPES: WeightDtype[] = ['F32', 'F16', 'BF16'];
/** parallelMinWork: default (small loops on one thread) and 0 (every loop split, rows shared out). */
const SPLITS: (number | undefined)[] = [undefined, 0];

const rng = new Prng(5);
const tokens = Array.from({ length: 13 }, () => Math.floor(rng.nextFloat() * 515));

describe.each(SETS)('%s kernels on odd sizes', (set) => {
  describe.each(DTYPES)('%s weights', (dtype) => {
    let model: Loaded;
    let reference: Float64Array[];
    beforeAll(async () => {
      model = await loadForReference(tinyModel('qwen2', dtype, ODD));
      reference = denseForward(model.checkpoint.config, model.weights, tokens, range(0, tokens.length), causal);
    });

    it.each(SPLITS)('prefill and decode match the reference (parallelMinWork %s)', async (split) => {
      const engine = engineFor(model.checkpoint, 64, set, split);
      try {
        expect(engine.backend).toBe(`cpu-${set}`);
        const a = engine.createSequence();
        const all = await engine.step([{ seq: a, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(0, tokens.length)), logits: 'all' }]);
        expectLogitsClose(all, reference, 515);
        const b = engine.createSequence();
        for (let i = 0; i < tokens.length; i++) {
          const out = await engine.step([{ seq: b, tokens: Int32Array.of(tokens[i]), positions: Int32Array.of(i), logits: 'last' }]);
          expectLogitsClose(out, [reference[i]], 515);
        }
      } finally {
        engine.dispose();
      }
    });
  });

  describe('f16 KV cache', () => {
    let model: Loaded;
    let engine: NativeEngine;
    beforeAll(async () => {
      model = await loadForReference(tinyModel('qwen2', 'F32', ODD));
      engine = engineFor(model.checkpoint, 64, set, undefined, 'f16');
    });
    afterAll(() => engine.dispose());

    it('stays within the rounding of K and V to half precision', async () => {
      const reference = denseForward(model.checkpoint.config, model.weights, tokens, range(0, tokens.length), causal);
      const seq = engine.createSequence();
      const out = await engine.step([{ seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(0, tokens.length)), logits: 'all' }]);
      // Storing K and V as f16 rounds each to 11 significant bits: a relative error up to 2^-11 in
      // every attention input, which carries into the logits at about that size relative to their
      // scale (these random models do not amplify it; measured ~1.3e-4). 2^-11 of the scale, not
      // the f32 cache's 1e-4, is the bound.
      let scale = 0;
      let worst = 0;
      reference.forEach((row, r) =>
        row.forEach((v, i) => {
          scale = Math.max(scale, Math.abs(v));
          worst = Math.max(worst, Math.abs(v - out[r * 515 + i]));
        }),
      );
      expect(worst).toBeLessThanOrEqual(2 ** -11 * scale);
      // ... and the rounding is really there: an f32 cache would be within 1e-5 here.
      expect(worst).toBeGreaterThan(1e-6 * scale);
    });
  });
});
