/**
 * Random weight bytes in every native dtype, with block scales chosen so the weights come out near
 * `spread` in size (random test and bench models keep sane activations). Every bit of the quantized fields is
 * random, so a kernel that reads a field from the wrong place disagrees with the reference.
 */
import type { NativeDtype } from '../native/binding.js';
import { Prng } from './prng.js';
import { f32ToBf16Bits, f32ToF16Bits } from './safetensors-writer.js';

/** Weights per block and bytes per block (a plain dtype's block is one weight). */
export const BLOCK: Record<NativeDtype, { elems: number; bytes: number }> = {
  F32: { elems: 1, bytes: 4 },
  F16: { elems: 1, bytes: 2 },
  BF16: { elems: 1, bytes: 2 },
  Q8_0: { elems: 32, bytes: 34 },
  Q4_0: { elems: 32, bytes: 18 },
  Q4_K: { elems: 256, bytes: 144 },
  Q6_K: { elems: 256, bytes: 210 },
};

export function randomWeightBytes(dtype: NativeDtype, rows: number, cols: number, seed: number, spread = 0.1): Uint8Array {
  const rng = new Prng(seed);
  const { elems, bytes } = BLOCK[dtype];
  const blocks = (rows * cols) / elems;
  const out = new Uint8Array(blocks * bytes);
  const v = new DataView(out.buffer);
  const uniform = () => (rng.nextFloat() * 2 - 1) * spread;
  // A positive half near `size` (within a factor of 2).
  const scale = (size: number) => f32ToF16Bits(size * (0.5 + rng.nextFloat()));
  for (let i = 0; i < out.length; i++) out[i] = rng.nextU32() & 255;
  for (let k = 0; k < blocks; k++) {
    const b = k * bytes;
    switch (dtype) {
      case 'F32':
        v.setFloat32(b, uniform(), true);
        break;
      case 'F16':
        v.setUint16(b, f32ToF16Bits(uniform()), true);
        break;
      case 'BF16':
        v.setUint16(b, f32ToBf16Bits(uniform()), true);
        break;
      case 'Q8_0': // q in [-128, 127]
        v.setUint16(b, scale(spread / 128), true);
        break;
      case 'Q4_0': // q - 8 in [-8, 7]
        v.setUint16(b, scale(spread / 8), true);
        break;
      case 'Q4_K': // d * sc * q - dmin * m with sc, m < 64 and q < 16
        v.setUint16(b, scale((2 * spread) / (63 * 15)), true);
        v.setUint16(b + 2, scale(spread / 63), true);
        break;
      case 'Q6_K': // scales are random int8, q in [-32, 31]
        v.setUint16(b + 208, scale(spread / (128 * 32)), true);
        break;
    }
  }
  return out;
}
