/**
 * Every kernel set this CPU runs (portable, AVX2, AVX-512) against the float64 reference over the
 * exactly decoded weights, for every weight dtype, at sizes that are not multiples of any vector or
 * tile width: 13 rows (three 4-row tiles and one left over), 1..7 tokens (a 4-token tile and 1-3 left
 * over), and row lengths with leftover columns where the format allows (block formats fill rows
 * with whole blocks). A kernel that drops its last row, token or column fails here.
 */
import { describe, expect, it } from 'vitest';
import { loadNative, type NativeDtype } from '../src/native/binding.js';
import { Prng } from '../src/testkit/prng.js';
import { dequantize, rowBytes } from './reference/ggml-dequant.js';
import { randomWeightBytes } from '../src/testkit/random-blocks.js';

const native = loadNative();
const SETS = native.kernelSets();

/** Row lengths per dtype: odd ones for the plain formats, 3 blocks (and 2 super-blocks) for the rest. */
const COLS: Record<NativeDtype, number[]> = {
  F32: [37, 72, 131],
  F16: [37, 72, 131],
  BF16: [37, 72, 131],
  Q8_0: [96],
  Q4_0: [96],
  Q4_K: [512],
  Q6_K: [512],
};
const ROWS = 13;
/** The formats multiplied as int8 by int8-quantized activations, and row lengths for them (Q4_K: whole super-blocks). */
const INT8: NativeDtype[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
const INT8_COLS: Record<string, [number, number]> = { Q8_0: [96, 288], Q4_0: [96, 288], Q4_K: [256, 512], Q6_K: [256, 512] };
// Rows of more than 32 blocks, which AVX-512 VNNI walks 4 at a time (one f16 scale a block): 33, 34
// and 35 blocks, so the last pass of each row takes 1, 2 or 3 blocks.
const LONG_ROW_COLS: Record<string, number[]> = { Q8_0: [1056, 1088, 1120], Q4_0: [1056, 1088, 1120] };

describe('kernel sets on this CPU', () => {
  it('include the portable one and, on an x86-64 with AVX2, the AVX2 one', () => {
    expect(SETS[0]).toBe('portable');
    if (native.cpuFeatures().avx2Fma && native.cpuFeatures().f16c) expect(SETS).toContain('avx2');
    if (native.cpuFeatures().avx512) expect(SETS).toContain('avx512');
  });
});

describe.each(SETS)('%s kernels', (set) => {
  describe.each(Object.keys(COLS) as NativeDtype[])('%s weights', (dtype) => {
    it.each(COLS[dtype])('decode rows of %i weights exactly', (cols) => {
      const bytes = randomWeightBytes(dtype, ROWS, cols, cols);
      expect(bytes.length).toBe(ROWS * rowBytes(dtype, cols));
      const got = native.dequantizeRows(set, dtype, bytes, ROWS, cols);
      const want = dequantize(dtype, bytes, ROWS * cols);
      // Every stored weight is an f32 exactly (a half, or small integers times halves). `+ 0` makes
      // -0 and 0 equal: the sign of a zero weight depends on the order of the factors.
      expect(Array.from(got, (v) => v + 0)).toEqual(Array.from(want, (v) => v + 0));
    });

    it.each(COLS[dtype])('multiply rows of %i weights by 1..7 tokens within f32 rounding', (cols) => {
      const bytes = randomWeightBytes(dtype, ROWS, cols, 100 + cols);
      const w = dequantize(dtype, bytes, ROWS * cols);
      const rng = new Prng(cols);
      // The int8 formats (activations rounded to 8 bits) are tested below.
      if (INT8.includes(dtype)) return;
      for (let tokens = 1; tokens <= 7; tokens++) {
        const x = Float32Array.from({ length: tokens * cols }, () => rng.nextFloat() * 2 - 1);
        const y = native.matmul(set, dtype, bytes, ROWS, cols, x, tokens);
        expect(y.length).toBe(tokens * ROWS);
        for (let t = 0; t < tokens; t++) {
          for (let r = 0; r < ROWS; r++) {
            let exact = 0;
            let magnitude = 0;
            for (let i = 0; i < cols; i++) {
              exact += x[t * cols + i] * w[r * cols + i];
              magnitude += Math.abs(x[t * cols + i] * w[r * cols + i]);
            }
            // A float sum of n products, in any order, is within n * 2^-24 * sum|terms| of the
            // exact sum (the classical bound (n u) / (1 - n u) with u = 2^-24, rounded up).
            const bound = (cols + 1) * 2 ** -24 * magnitude * 1.01;
            expect(Math.abs(y[t * ROWS + r] - exact), `token ${t} row ${r}`).toBeLessThanOrEqual(bound);
          }
        }
      }
    });
  });

  // Row lengths around the register widths: with 16 lanes (AVX-512) an even or odd count of whole
  // registers and a partial one after it (131, 72, 45; 53), with 8 lanes (AVX2) an odd count of
  // whole registers alone (72) or before a partial one (45).
  it.each((['F32', 'F16', 'BF16'] as NativeDtype[]).flatMap((dtype) => [131, 72, 53, 45].map((cols) => [dtype, cols] as const)))(
    'give a token the same %s product bit for bit whatever the tokens beside it (row of %i)', (dtype, cols) => {
    // Decode steps carry 1..n rows and the engine promises a row the same logits in any of them
    // (Multiverse lanes, waves); a tile reduces several sums at once, a lone token one at a time.
    const bytes = randomWeightBytes(dtype, ROWS, cols, 500);
    const rng = new Prng(5);
    const x = Float32Array.from({ length: 7 * cols }, () => rng.nextFloat() * 2 - 1);
    const together = native.matmul(set, dtype, bytes, ROWS, cols, x, 7);
    for (let t = 0; t < 7; t++) {
      const alone = native.matmul(set, dtype, bytes, ROWS, cols, x.subarray(t * cols, (t + 1) * cols), 1);
      expect(Array.from(together.subarray(t * ROWS, (t + 1) * ROWS)), `token ${t}`).toEqual(Array.from(alone));
    }
  });

  it('multiply silu(gate) by up within 1e-6 of the float64 value, at every leftover length', () => {
    const rng = new Prng(9);
    const special = [0, -0, 1e-3, -1e-3, 20, -20, 88, -88, 200, -200];
    for (let n = 1; n <= 37; n++) {
      const gate = Float32Array.from({ length: n }, (_, i) => (i < special.length && n === 37 ? special[i] : (rng.nextFloat() * 2 - 1) * 30));
      const up = Float32Array.from({ length: n }, () => rng.nextFloat() * 4 - 2);
      const got = native.siluMul(set, gate, up);
      for (let i = 0; i < n; i++) {
        const want = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
        // Relative: the polynomial exp and four f32 roundings; absolute: exp's arguments below -87
        // are taken as -87 (docs/kernels.md), which leaves results below 1e-30 in the far tail.
        expect(Math.abs(got[i] - want), `n ${n} gate ${gate[i]}`).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-30);
      }
    }
  });

  describe.each(INT8)('%s weights times int8 activations', (dtype) => {
    // 21 rows: groups of 8 (AVX2, and the 1-4-token matvec) or 16 (AVX-512 VNNI) rows and 5 left
    // over; 1..4 tokens take the matvec, 5..13 whole 4- or 8-token tiles and every leftover count.
    const ROWS = 21;
    const [short, long] = INT8_COLS[dtype];
    it.each([short, long, ...(LONG_ROW_COLS[dtype] ?? [])])('rows of %i weights equal the portable set bit for bit', (cols) => {
      const bytes = randomWeightBytes(dtype, ROWS, cols, 300 + cols);
      const rng = new Prng(7 * cols);
      for (let tokens = 1; tokens <= 13; tokens++) {
        const x = Float32Array.from({ length: tokens * cols }, () => rng.nextFloat() * 2 - 1);
        expect(native.matmul(set, dtype, bytes, ROWS, cols, x, tokens)).toEqual(native.matmul('portable', dtype, bytes, ROWS, cols, x, tokens));
      }
    });

    it('quantize awkward activations to the portable set\'s bytes: ties, an all-zero block, NaN and infinities', () => {
      const cols = short;
      const bytes = randomWeightBytes(dtype, ROWS, cols, 500 + cols);
      // Block 0: max 127, so the step is 1 and every x.5 is a tie (rounded to even); block 1 all zero;
      // block 2 a NaN among ordinary values (skipped by the block's max in every set); an infinity
      // in the last block of token 1.
      const x = new Float32Array(2 * cols);
      for (let i = 0; i < 32; i++) x[i] = i === 0 ? 127 : (i % 2 ? -1 : 1) * (i + 0.5);
      for (let i = 64; i < cols; i++) x[i] = Math.sin(i) * 3;
      x[94] = Number.NaN;  // in the last register of the block in either set, where no later max would hide a NaN kept by mistake
      x.copyWithin(cols, 0, cols);
      x[2 * cols - 1] = Number.POSITIVE_INFINITY;
      x[2 * cols - 2] = Number.NEGATIVE_INFINITY;
      expect(native.matmul(set, dtype, bytes, ROWS, cols, x, 2)).toEqual(native.matmul('portable', dtype, bytes, ROWS, cols, x, 2));
    });

    it.each([
      [short, 1],
      [short, 3],
      [long, 1],
      [long, 9],
    ])('rows of %i weights times %i tokens within the activation rounding of the float64 product', (cols, tokens) => {
      const bytes = randomWeightBytes(dtype, ROWS, cols, 400 + cols);
      const w = dequantize(dtype, bytes, ROWS * cols);
      const rng = new Prng(11 * cols);
      // Activations spanning three orders of magnitude, so blocks get very different scales.
      const x = Float32Array.from({ length: tokens * cols }, () => (rng.nextFloat() * 2 - 1) * 10 ** Math.floor(rng.nextFloat() * 3 - 1));
      const y = native.matmul(set, dtype, bytes, ROWS, cols, x, tokens);
      for (let t = 0; t < tokens; t++) {
        for (let r = 0; r < ROWS; r++) {
          let exact = 0;
          let rounding = 0;
          let magnitude = 0;
          for (let b = 0; b < cols / 32; b++) {
            // Each activation moves by at most half its block's step max|x| / 127.
            let amax = 0;
            for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[t * cols + 32 * b + j]));
            const halfStep = (amax / 127 / 2) * (1 + 1e-6);
            for (let j = 0; j < 32; j++) {
              const xi = x[t * cols + 32 * b + j];
              const wi = w[r * cols + 32 * b + j];
              exact += xi * wi;
              rounding += halfStep * Math.abs(wi);
              magnitude += (Math.abs(xi) + halfStep) * Math.abs(wi);
            }
          }
          // Plus f32 rounding of one scale product and one FMA per block (two of each with Q4_K's
          // mins, whose term is at most dmin * 63 * sum|x| per block, inside `magnitude`'s scale
          // for these random blocks; the test would catch a kernel that drops it).
          const steps = dtype === 'Q4_K' ? 2 : 1;
          const bound = rounding + (steps * cols / 32 + 2) * 2 ** -24 * magnitude * 1.01;
          expect(Math.abs(y[t * ROWS + r] - exact), `token ${t} row ${r}`).toBeLessThanOrEqual(bound);
        }
      }
    });

    it('rounds each activation to its block scale, as llama.cpp does (hand-computed)', () => {
      // One row of weights, all 1 (scale 1.0 = f16 0x3c00; Q4_0 stores 1 as the nibble 9; Q4_K as the
      // nibble 3 times sub-block scale 1 minus dmin 1.0 times min 2; Q6_K as 33 - 32, 33 = low
      // nibble 1 and high bits 2, times scale 1). A block with max 127 has step 1, so 0.4 rounds to 0
      // and 2.5 to 2 (ties to even): 127 + 0 + 2 = 129, not 129.9.
      const cols = dtype === 'Q4_K' || dtype === 'Q6_K' ? 256 : 32;
      const bytes = {
        Q8_0: () => new Uint8Array(34).fill(1),
        Q4_0: () => new Uint8Array(18).fill(0x99),
        Q4_K: () => new Uint8Array(144).fill(0x33),
        Q6_K: () => new Uint8Array([...new Array(128).fill(0x11), ...new Array(64).fill(0xaa), ...new Array(16).fill(1), 0x00, 0x3c]),
      }[dtype as 'Q8_0']();
      if (dtype !== 'Q6_K') {
        bytes[0] = 0x00;
        bytes[1] = 0x3c;
      }
      // Q4_K: dmin 1.0; sub-blocks 0-3 take scale and min from bytes 4-7 and 8-11 (low 6 bits),
      // 4-7 from the low and high nibbles of bytes 12-15.
      if (dtype === 'Q4_K') bytes.set([0x00, 0x3c, 1, 1, 1, 1, 2, 2, 2, 2, 0x21, 0x21, 0x21, 0x21], 2);
      for (const tokens of [1, 5]) {
        const x = new Float32Array(cols * tokens);
        for (let t = 0; t < tokens; t++) x.set([127, 0.4, 2.5], cols * t);
        expect(Array.from(native.matmul(set, dtype, bytes, 1, cols, x, tokens))).toEqual(new Array(tokens).fill(129));
      }
    });
  });

  it('rejects bytes that do not match the shape, without crashing', () => {
    expect(() => native.dequantizeRows(set, 'Q4_K', new Uint8Array(143), 1, 256)).toThrow(/wrong length/);
    expect(() => native.dequantizeRows(set, 'Q8_0', new Uint8Array(34), 1, 33)).toThrow(/whole number of blocks/);
  });
});
