/**
 * The ggml block formats decoded to float64, written from the published layouts (ggml-quants.c
 * dequantize_row_*): the oracle the native kernels are checked against. Deliberately plain: one
 * element at a time, the element index spelled out.
 */
import fs from 'node:fs';
import { bf16BitsToNumber, f16BitsToNumber } from '../../src/model/dtype-decode.js';
import type { NativeDtype, NativeTensorRef } from '../../src/native/binding.js';
import { BLOCK } from '../../src/testkit/random-blocks.js';

export function rowBytes(dtype: NativeDtype, cols: number): number {
  return (cols / BLOCK[dtype].elems) * BLOCK[dtype].bytes;
}

/** Decodes `count` weights (whole blocks) stored from byte 0 of `bytes`. */
export function dequantize(dtype: NativeDtype, bytes: Uint8Array, count: number): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  const { elems, bytes: size } = BLOCK[dtype];
  for (let e = 0; e < count; e++) {
    const b = Math.floor(e / elems) * size; // block start
    const j = e % elems; // index inside the block
    out[e] = weight(dtype, view, b, j);
  }
  return out;
}

function weight(dtype: NativeDtype, v: DataView, b: number, j: number): number {
  const half = (at: number) => f16BitsToNumber(v.getUint16(at, true));
  switch (dtype) {
    case 'F32':
      return v.getFloat32(b, true);
    case 'F16':
      return half(b);
    case 'BF16':
      return bf16BitsToNumber(v.getUint16(b, true));
    case 'Q8_0':
      return half(b) * v.getInt8(b + 2 + j);
    case 'Q4_0': {
      // Byte k holds element k in its low nibble and element k + 16 in its high nibble.
      const byte = v.getUint8(b + 2 + (j % 16));
      const q = j < 16 ? byte & 15 : byte >> 4;
      return half(b) * (q - 8);
    }
    case 'Q4_K': {
      // 64-weight group g = j / 64 uses qs[32g .. 32g + 32): low nibbles for its first 32 weights
      // (sub-block 2g), high nibbles for the next 32 (sub-block 2g + 1).
      const sub = Math.floor(j / 32);
      const byte = v.getUint8(b + 16 + 32 * Math.floor(j / 64) + (j % 32));
      const q = sub % 2 === 0 ? byte & 15 : byte >> 4;
      const s = (k: number) => v.getUint8(b + 4 + k);
      const [sc, m] =
        sub < 4
          ? [s(sub) & 63, s(sub + 4) & 63]
          : [(s(sub + 4) & 15) | ((s(sub - 4) >> 6) << 4), (s(sub + 4) >> 4) | ((s(sub) >> 6) << 4)];
      return half(b) * sc * q - half(b + 2) * m;
    }
    case 'Q6_K': {
      // Halves of 128; in half h, element 32r + l (r < 4) takes ql byte 64h + l + 32(r % 2) (low
      // nibble for r < 2, high for r >= 2) and bits 2r..2r+1 of qh byte 32h + l.
      const h = Math.floor(j / 128);
      const r = Math.floor((j % 128) / 32);
      const l = j % 32;
      const ql = v.getUint8(b + 64 * h + l + 32 * (r % 2));
      const qh = v.getUint8(b + 128 + 32 * h + l);
      const q = ((r < 2 ? ql & 15 : ql >> 4) | (((qh >> (2 * r)) & 3) << 4)) - 32;
      const scale = v.getInt8(b + 192 + 8 * h + 2 * r + Math.floor(l / 16));
      return half(b + 208) * scale * q;
    }
  }
}

/** The tensor's values in row-major [out, in] order (the file's own row order). */
export function readDequantized(ref: NativeTensorRef): Float64Array {
  const bytes = Buffer.alloc(ref.byteLength);
  const fd = fs.openSync(ref.file, 'r');
  try {
    fs.readSync(fd, bytes, 0, ref.byteLength, ref.offset);
  } finally {
    fs.closeSync(fd);
  }
  return dequantize(ref.dtype, bytes, ref.shape.reduce((a, b) => a * b, 1));
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
