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
import { dequantize } from './reference/ggml-dequant.js';
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

/**
 * One query token's attention as each kernel set runs it (the probe calls the engine's per-KV-head
 * unit, kernels/cpu/attention.h) against softmax(scale q K^T) V in float64 over the exactly decoded
 * K and V. Shapes that leave remainders everywhere: head dims that are not a multiple of 8 or 16 (or
 * below one register), 1 to 17 query heads against the 4-head score blocks and the register-held
 * output blocks, key counts around the 4-row blocks and the prefetch distance (16 rows), and slot
 * lists that are not one ascending run: reversed, shuffled with gaps, repeated slots, and an
 * ascending run broken by a jump at every offset.
 */
describe('attention kernel per KV head against float64', () => {
  const POOL = 300;
  const STRIDE_PAD = 5; // elements between one slot's row and the next: other heads' data in the engine

  /** Random KV rows: halves with exponents 2^-5..2^0 (|x| < 2), or f32 in (-2, 2). */
  function kvBytes(kv: 'f16' | 'f32', count: number, rng: Prng): Uint8Array {
    if (kv === 'f32') return new Uint8Array(Float32Array.from({ length: count }, () => rng.nextFloat() * 4 - 2).buffer);
    const halves = Uint16Array.from({ length: count }, () => {
      const sign = rng.nextFloat() < 0.5 ? 0x8000 : 0;
      const exponent = 10 + Math.floor(rng.nextFloat() * 6);
      return sign | (exponent << 10) | Math.floor(rng.nextFloat() * 1024);
    });
    return new Uint8Array(halves.buffer);
  }

  function reference(q: Float32Array, nq: number, d: number, k: Float64Array, v: Float64Array, stride: number, rows: Int32Array, scale: number): Float64Array {
    const out = new Float64Array(nq * d);
    for (let j = 0; j < nq; j++) {
      const s = Array.from(rows, (r) => {
        let dot = 0;
        for (let e = 0; e < d; e++) dot += q[j * d + e] * k[r * stride + e];
        return dot * scale;
      });
      const max = Math.max(...s);
      const p = s.map((x) => Math.exp(x - max));
      const sum = p.reduce((a, b) => a + b, 0);
      rows.forEach((r, i) => {
        for (let e = 0; e < d; e++) out[j * d + e] += (p[i] / sum) * v[r * stride + e];
      });
    }
    return out;
  }

  function orders(n: number, rng: Prng): [string, Int32Array][] {
    const ascending = Int32Array.from({ length: n }, (_, i) => i + 3);
    const shuffled = Int32Array.from({ length: POOL }, (_, i) => i);
    for (let i = POOL - 1; i > 0; i--) {
      const j = Math.floor(rng.nextFloat() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const out: [string, Int32Array][] = [
      ['ascending', ascending],
      ['reversed', ascending.slice().reverse()],
      ['shuffled with gaps', shuffled.slice(0, n)],
      ['with repeats', Int32Array.from({ length: n }, () => Math.floor(rng.nextFloat() * Math.min(n, 7)))],
    ];
    // An ascending run broken at offset b: the rows from b on jump 100 slots further.
    for (let b = 1; b < n; b++) out.push([`run broken at ${b}`, Int32Array.from({ length: n }, (_, i) => (i < b ? i : i + 100))]);
    return out;
  }

  const native = loadNative();
  const shapes: [number, number][] = [
    [16, 17], // one AVX-512 register per head: 17 heads overflow the 16 held outputs
    [18, 5], // leftover dims in every set
    [8, 3], // shorter than one AVX-512 register
    [64, 3], // the bench model: 12 heads over 4 KV heads
    [64, 7],
    [72, 2], // 4.5 AVX-512 registers: the row-by-row path
    [128, 4],
  ];
  describe.each(SETS)('%s', (set) => {
    it.each(['f16', 'f32'] as const)('matches at every shape, key count and slot order (%s KV)', (kv) => {
      const rng = new Prng(kv === 'f16' ? 16 : 32);
      let worst = 0;
      for (const [d, nq] of shapes) {
        const stride = d + STRIDE_PAD;
        const keys = kvBytes(kv, (POOL + 1) * stride + 110 * stride, rng);
        const values = kvBytes(kv, keys.length / (kv === 'f16' ? 2 : 4), rng);
        const k = dequantize(kv === 'f16' ? 'F16' : 'F32', keys, keys.length / (kv === 'f16' ? 2 : 4));
        const v = dequantize(kv === 'f16' ? 'F16' : 'F32', values, k.length);
        // Scores spread over tens of units, so exp is taken far from 0.
        const q = Float32Array.from({ length: nq * d }, () => (rng.nextFloat() * 2 - 1) * 3);
        const scale = 2 / Math.sqrt(d);
        for (const n of [1, 3, 4, 5, 17, 21, 77]) {
          for (const [order, rows] of orders(n, rng)) {
            const got = native.attention(set, kv, q, nq, d, keys, values, stride, rows, scale);
            const want = reference(q, nq, d, k, v, stride, rows, scale);
            expect(got.length, `${d}/${nq}/${n}/${order}`).toBe(nq * d);
            for (let i = 0; i < want.length; i++) {
              const err = Math.abs(got[i] - want[i]);
              worst = Math.max(worst, err);
              // |v| < 2 and the output is a convex combination of V rows; f32 rounding moves it by
              // about 1.5e-6 here (every set), so 2e-5 leaves room while a dropped row or head fails.
              if (!(err <= 2e-5)) expect.fail(`d ${d}, ${nq} heads, ${n} keys, ${order}: element ${i} is ${got[i]}, want ${want[i]}`);
            }
          }
        }
      }
      expect(worst).toBeGreaterThan(0); // f32 arithmetic did run (not a float64 copy)
    });
  });

  it('rejects a slot outside the buffers', () => {
    const keys = new Uint8Array(2 * 8 * 4);
    expect(() => native.attention('portable', 'f16', new Float32Array(8), 1, 8, keys, keys, 8, Int32Array.of(0, 4), 1)).toThrow(/row 1 lies outside/);
  });
});
