/**
 * Exact decoding of the weight dtypes to JS numbers. Every f16, bf16 and f32 value is exactly
 * representable as a double, so nothing here rounds. Used by test-only reference math; the engine
 * decodes on the native side.
 */
import type { WeightDtype } from './config.js';

/**
 * Bytes per element of the whole-byte safetensors dtypes, so headers can be checked even for
 * tensors we never load. Sub-byte dtypes (F4, F6_*) are absent: their sizes are not checked.
 */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The dtypes the engine loads. */
export function isWeightDtype(dtype: string): dtype is WeightDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** Decodes an IEEE 754 half-precision bit pattern (subnormals, infinities and NaN included). */
export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (0x400 + mant) * 2 ** (exp - 25);
}

const scratch = new DataView(new ArrayBuffer(4));

/** Decodes a bfloat16 bit pattern: the high half of an f32. */
export function bf16BitsToNumber(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

/**
 * Decodes little-endian tensor bytes. A trailing partial element is ignored; callers check the
 * byte length against the shape before decoding.
 */
export function decodeTensorBytes(bytes: Uint8Array, dtype: WeightDtype): Float64Array {
  // DataView, because file buffers need not be aligned and the host need not be little-endian.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(Math.floor(bytes.byteLength / DTYPE_BYTES[dtype]));
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F16') out[i] = f16BitsToNumber(view.getUint16(i * 2, true));
    else out[i] = bf16BitsToNumber(view.getUint16(i * 2, true));
  }
  return out;
}
