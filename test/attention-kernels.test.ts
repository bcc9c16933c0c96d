/**
 * The attention loops of each kernel set (scores, softmax, weighted sum of V rows) against the dense
 * float64 reference, at head sizes the SIMD sets keep in registers (16 and 32 dims: 1 to 4 vectors)
 * with 7 query heads on one KV head, so the heads never fill the register blocks evenly, and at
 * contexts of 77 and 41 rows, which leave a remainder against 8 and 16 lanes. The query weights are
 * scaled up 40x so that the scores spread over tens of units: the softmax then takes exp over much
 * of its range instead of near 0, as it would with the 0.02-scale random weights.
 */
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNative, type KernelSet } from '../src/native/binding.js';
import { Prng } from '../src/testkit/prng.js';
import { denseForward } from './reference/dense-forward.js';
import { tinyModel } from './support/models.js';
import { causal, engineFor, expectLogitsClose, loadForReference, range, type Loaded } from './support/oracle.js';

const SETS = loadNative().kernelSets();
const VOCAB = 515;
const QUERY_SCALE = 40;

/** A copy of an f32 checkpoint with every q_proj weight and bias multiplied by QUERY_SCALE. */
async function withSharpAttention(dir: string): Promise<string> {
  const out = `${dir}-sharp`;
  if (!fs.existsSync(out)) {
    fs.cpSync(dir, out, { recursive: true });
    const { checkpoint } = await loadForReference(out);
    for (const t of checkpoint.tensors.filter((t) => t.name.includes('q_proj'))) {
      const fd = fs.openSync(t.file, 'r+');
      const bytes = Buffer.alloc(t.byteLength);
      fs.readSync(fd, bytes, 0, t.byteLength, t.offset);
      const values = new Float32Array(bytes.buffer, bytes.byteOffset, t.byteLength / 4);
      for (let i = 0; i < values.length; i++) values[i] *= QUERY_SCALE;
      fs.writeSync(fd, bytes, 0, t.byteLength, t.offset);
      fs.closeSync(fd);
    }
  }
  return out;
}

const rng = new Prng(9);
const tokens = Array.from({ length: 78 }, () => Math.floor(rng.nextFloat() * VOCAB));

describe.each(SETS)('%s attention', (set) => {
  describe.each([16, 32])('head dim %i, 7 query heads per KV head', (headDim) => {
    let model: Loaded;
    let reference: Float64Array[];
    beforeAll(async () => {
      const dir = tinyModel('qwen2', 'F32', { hiddenSize: 7 * headDim, numHeads: 7, numKvHeads: 1, intermediateSize: 133, vocabSize: VOCAB });
      model = await loadForReference(await withSharpAttention(dir));
      reference = denseForward(model.checkpoint.config, model.weights, tokens, range(0, tokens.length), causal);
    });

    it('has scores spread wide enough to test exp (the reference is not a near-uniform softmax)', () => {
      // With uniform attention the logits would barely move between neighbouring positions.
      const last = reference[reference.length - 1];
      const prev = reference[reference.length - 2];
      let diff = 0;
      for (let i = 0; i < VOCAB; i++) diff = Math.max(diff, Math.abs(last[i] - prev[i]));
      expect(diff).toBeGreaterThan(0.01);
    });

    it.each([undefined, 0])('prefill and a two-sequence decode step match the reference (parallelMinWork %s)', async (split) => {
      const engine = engineFor(model.checkpoint, 256, set, split);
      try {
        expect(engine.backend).toBe(`cpu-${set}`);
        const a = engine.createSequence();
        const all = await engine.step([{ seq: a, tokens: Int32Array.from(tokens.slice(0, 77)), positions: Int32Array.from(range(0, 77)), logits: 'all' }]);
        expectLogitsClose(all, reference.slice(0, 77), VOCAB);
        const b = engine.createSequence();
        await engine.step([{ seq: b, tokens: Int32Array.from(tokens.slice(0, 41)), positions: Int32Array.from(range(0, 41)), logits: 'none' }]);
        const out = await engine.step([
          { seq: a, tokens: Int32Array.of(tokens[77]), positions: Int32Array.of(77), logits: 'last' },
          { seq: b, tokens: Int32Array.of(tokens[41]), positions: Int32Array.of(41), logits: 'last' },
        ]);
        expectLogitsClose(out, [reference[77], reference[41]], VOCAB);
      } finally {
        engine.dispose();
      }
    });
  });
});

// With the f16 cache the sharp scores amplify the rounding of K (about 1.6e-3 of the scale here, in
// every set alike), so the SIMD sets are held to the portable set on the same rounded K and V: to
// 2^-11 of the scale, as the sets' f32 K and V differ in their last bits and can round to
// neighbouring halves (measured up to 1.3e-4 here).
describe.each(SETS.filter((s) => s !== 'portable'))('%s attention on the f16 KV cache', (set) => {
  it.each([16, 32])('equals the portable set at head dim %i', async (headDim) => {
    const dir = tinyModel('qwen2', 'F32', { hiddenSize: 7 * headDim, numHeads: 7, numKvHeads: 1, intermediateSize: 133, vocabSize: VOCAB });
    const { checkpoint } = await loadForReference(await withSharpAttention(dir));
    const run = async (kernels: KernelSet) => {
      const engine = engineFor(checkpoint, 128, kernels, undefined, 'f16');
      try {
        const seq = engine.createSequence();
        return await engine.step([{ seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(0, tokens.length)), logits: 'all' }]);
      } finally {
        engine.dispose();
      }
    };
    const portable = await run('portable');
    const rows = Array.from({ length: tokens.length }, (_, r) => Float64Array.from(portable.subarray(r * VOCAB, (r + 1) * VOCAB)));
    expectLogitsClose(await run(set), rows, VOCAB, 2 ** -11);
  });
});
