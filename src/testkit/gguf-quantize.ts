/**
 * Encodes f32 rows in the ggml weight types, block by block, in ggml's layouts (ggml-common.h):
 *   Q8_0  32 values: f16 d, 32 int8 q;               value = d·q
 *   Q4_0  32 values: f16 d, 16 bytes of nibbles;      value = d·(q − 8), byte j = q[j] | q[j+16] << 4
 *   Q4_K 256 values: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for 8 sub-blocks of 32,
 *        128 bytes of nibbles;                        value = d·sc·q − dmin·m
 *   Q6_K 256 values: 128 bytes low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales (one per
 *        16 values), f16 d;                           value = d·sc·(q − 32)
 * The rounding choices are simple (no error search as llama.cpp's quantizers do): tests compare
 * the engine against the exactly dequantized file, so only the layout must be right.
 */
import { f16BitsToNumber } from '../model/dtype-decode.js';
import type { GgmlType } from '../model/gguf/ggml-types.js';
import { GGML_TYPES, ggmlTensorBytes } from '../model/gguf/ggml-types.js';
import { encodeValues, f32ToF16Bits } from './safetensors-writer.js';

/** `values` (rows × cols, row-major) in `type`; cols must be a multiple of the type's block size. */
export function encodeGgml(values: Float32Array, cols: number, type: GgmlType): Uint8Array {
  if (type === 'F32' || type === 'F16' || type === 'BF16') return encodeValues(values, type);
  const { blockSize, blockBytes } = GGML_TYPES[type];
  if (cols % blockSize !== 0) throw new RangeError(`${type} needs rows of a multiple of ${blockSize} values, got ${cols}`);
  const out = new Uint8Array(ggmlTensorBytes(type, values.length / cols, cols));
  const view = new DataView(out.buffer);
  const blocks = values.length / blockSize;
  for (let b = 0; b < blocks; b++) {
    QUANTIZERS[type](values.subarray(b * blockSize, (b + 1) * blockSize), out.subarray(b * blockBytes, (b + 1) * blockBytes), view, b * blockBytes);
  }
  return out;
}

type BlockQuantizer = (x: Float32Array, out: Uint8Array, view: DataView, at: number) => void;

/** Stores an f16 and returns the value it holds after rounding. */
function putF16(view: DataView, at: number, v: number): number {
  const bits = f32ToF16Bits(v);
  view.setUint16(at, bits, true);
  return f16BitsToNumber(bits);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** The element of largest magnitude (with its sign). */
function signedMax(x: ArrayLike<number>, from: number, to: number): number {
  let best = 0;
  for (let i = from; i < to; i++) if (Math.abs(x[i]) > Math.abs(best)) best = x[i];
  return best;
}

const q8_0: BlockQuantizer = (x, out, view, at) => {
  const d = putF16(view, at, Math.abs(signedMax(x, 0, 32)) / 127);
  for (let i = 0; i < 32; i++) view.setInt8(at + 2 + i, d === 0 ? 0 : clamp(Math.round(x[i] / d), -127, 127));
};

const q4_0: BlockQuantizer = (x, out, view, at) => {
  // As ggml: the largest-magnitude value maps to q = 0 (d·(0 − 8)), so its sign sets d's.
  const d = putF16(view, at, signedMax(x, 0, 32) / -8);
  const q = (v: number) => (d === 0 ? 8 : clamp(Math.round(v / d) + 8, 0, 15));
  for (let j = 0; j < 16; j++) out[2 + j] = q(x[j]) | (q(x[j + 16]) << 4);
};

const q4_K: BlockQuantizer = (x, out, view, at) => {
  const scales: number[] = [];
  const mins: number[] = [];
  for (let s = 0; s < 8; s++) {
    let lo = 0;
    let hi = 0;
    for (let i = s * 32; i < s * 32 + 32; i++) {
      lo = Math.min(lo, x[i]);
      hi = Math.max(hi, x[i]);
    }
    scales.push((hi - lo) / 15);
    mins.push(-lo);
  }
  const d = putF16(view, at, Math.max(...scales) / 63);
  const dmin = putF16(view, at + 2, Math.max(...mins) / 63);
  const sc = scales.map((s) => (d === 0 ? 0 : clamp(Math.round(s / d), 0, 63)));
  const m = mins.map((v) => (dmin === 0 ? 0 : clamp(Math.round(v / dmin), 0, 63)));
  const packed = out.subarray(4, 16);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      packed[j] |= sc[j];
      packed[j + 4] |= m[j];
    } else {
      // Sub-blocks 4..7: low four bits in bytes 8..11, the top two above the first four's 6 bits.
      packed[j + 4] = (sc[j] & 0xf) | ((m[j] & 0xf) << 4);
      packed[j - 4] |= (sc[j] >> 4) << 6;
      packed[j] |= (m[j] >> 4) << 6;
    }
  }
  const q = (i: number) => {
    const s = Math.floor(i / 32);
    const step = d * sc[s];
    return step === 0 ? 0 : clamp(Math.round((x[i] + dmin * m[s]) / step), 0, 15);
  };
  // Each 64 values share 32 bytes: the first 32 in the low nibbles, the next 32 in the high ones.
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) out[16 + c * 32 + l] = q(c * 64 + l) | (q(c * 64 + 32 + l) << 4);
  }
};

const q6_K: BlockQuantizer = (x, out, view, at) => {
  const subScales = Array.from({ length: 16 }, (_, j) => signedMax(x, j * 16, j * 16 + 16) / -32);
  const d = putF16(view, at + 208, Math.abs(signedMax(subScales, 0, 16)) / 127);
  const sc = subScales.map((s) => (d === 0 ? 0 : clamp(Math.round(s / d), -128, 127)));
  sc.forEach((s, j) => view.setInt8(at + 192 + j, s));
  for (let e = 0; e < 256; e++) {
    const step = d * sc[e >> 4];
    const q = (step === 0 ? 0 : clamp(Math.round(x[e] / step), -32, 31)) + 32;
    // Within each half of 128: four groups of 32; groups 0/1 use low nibbles, 2/3 high ones.
    const half = e >> 7;
    const group = (e & 127) >> 5;
    const l = e & 31;
    out[half * 64 + (group & 1) * 32 + l] |= (q & 0xf) << (group < 2 ? 0 : 4);
    out[128 + half * 32 + l] |= (q >> 4) << (2 * group);
  }
};

const QUANTIZERS: Record<'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K', BlockQuantizer> = { Q8_0: q8_0, Q4_0: q4_0, Q4_K: q4_K, Q6_K: q6_K };
