/**
 * The test oracle for GGUF weights: a tensor's bytes decoded exactly to float64, following ggml's
 * reference dequantizers (ggml-quants.c, dequantize_row_*) block by block. Every product here is
 * of an f16 scale and a small integer, so float64 holds each value exactly. Written apart from the
 * testkit's quantizers: it reads the layouts, it does not invert them.
 */
import fs from 'node:fs';
import { decodeTensorBytes, f16BitsToNumber } from '../../src/model/dtype-decode.js';
import type { NativeTensorRef } from '../../src/native/binding.js';

/** The tensor's values in row-major [out, in] order (the file's own row order). */
export function readDequantized(ref: NativeTensorRef): Float64Array {
  const bytes = Buffer.alloc(ref.byteLength);
  const fd = fs.openSync(ref.file, 'r');
  try {
    fs.readSync(fd, bytes, 0, ref.byteLength, ref.offset);
  } finally {
    fs.closeSync(fd);
  }
  return dequantize(bytes, ref.dtype, ref.shape.reduce((a, b) => a * b, 1));
}

export function dequantize(bytes: Uint8Array, dtype: NativeTensorRef['dtype'], count: number): Float64Array {
  if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') return decodeTensorBytes(bytes, dtype);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const f16 = (at: number) => f16BitsToNumber(view.getUint16(at, true));
  const out = new Float64Array(count);
  const blocks = { Q8_0: 32, Q4_0: 32, Q4_K: 256, Q6_K: 256 }[dtype];
  for (let b = 0; b < count / blocks; b++) {
    const y = out.subarray(b * blocks);
    if (dtype === 'Q8_0') {
      const at = b * 34;
      const d = f16(at);
      for (let i = 0; i < 32; i++) y[i] = d * view.getInt8(at + 2 + i);
    } else if (dtype === 'Q4_0') {
      const at = b * 18;
      const d = f16(at);
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 2 + j];
        y[j] = d * ((q & 0xf) - 8);
        y[j + 16] = d * ((q >> 4) - 8);
      }
    } else if (dtype === 'Q4_K') {
      dequantizeQ4K(bytes, b * 144, f16(b * 144), f16(b * 144 + 2), y);
    } else {
      dequantizeQ6K(bytes, view, b * 210, f16(b * 210 + 208), y);
    }
  }
  return out;
}

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes at `s`. */
function scaleMin(bytes: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [bytes[s + j] & 63, bytes[s + j + 4] & 63];
  return [(bytes[s + j + 4] & 0xf) | ((bytes[s + j - 4] >> 6) << 4), (bytes[s + j + 4] >> 4) | ((bytes[s + j] >> 6) << 4)];
}

function dequantizeQ4K(bytes: Uint8Array, at: number, d: number, dmin: number, y: Float64Array): void {
  const q = at + 16;
  for (let c = 0; c < 4; c++) {
    const [sc1, m1] = scaleMin(bytes, at + 4, 2 * c);
    const [sc2, m2] = scaleMin(bytes, at + 4, 2 * c + 1);
    for (let l = 0; l < 32; l++) {
      y[c * 64 + l] = d * sc1 * (bytes[q + c * 32 + l] & 0xf) - dmin * m1;
      y[c * 64 + 32 + l] = d * sc2 * (bytes[q + c * 32 + l] >> 4) - dmin * m2;
    }
  }
}

function dequantizeQ6K(bytes: Uint8Array, view: DataView, at: number, d: number, y: Float64Array): void {
  for (let n = 0; n < 2; n++) {
    const ql = at + n * 64;
    const qh = at + 128 + n * 32;
    const sc = at + 192 + n * 8;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = bytes[qh + l];
      const q1 = ((bytes[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
      const q2 = ((bytes[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((bytes[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((bytes[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
      y[n * 128 + l] = d * view.getInt8(sc + is) * q1;
      y[n * 128 + l + 32] = d * view.getInt8(sc + is + 2) * q2;
      y[n * 128 + l + 64] = d * view.getInt8(sc + is + 4) * q3;
      y[n * 128 + l + 96] = d * view.getInt8(sc + is + 6) * q4;
    }
  }
}

/**
 * Undoes llama.cpp's llama q/k row order: row (h, r·d/2 + j) of the result is row (h, 2j + r) of
 * `w` ([heads·d, cols]), giving back Hugging Face's layout for rotate_half rope.
 */
export function hfRopeRows(w: Float64Array, heads: number, headDim: number): Float64Array {
  const cols = w.length / (heads * headDim);
  const out = new Float64Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let row = 0; row < headDim; row++) {
      const j = row >> 1;
      const r = row & 1;
      const hfRow = h * headDim + r * (headDim / 2) + j;
      out.set(w.subarray((h * headDim + row) * cols, (h * headDim + row + 1) * cols), hfRow * cols);
    }
  }
  return out;
}
