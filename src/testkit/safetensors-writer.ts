/**
 * Writes safetensors files (https://huggingface.co/docs/safetensors: 8-byte little-endian header
 * length, a JSON header of {name: {dtype, shape, data_offsets}}, then the raw little-endian data).
 * Used to generate test checkpoints, and by tests that build deliberately broken files.
 */
import type { WeightDtype } from '../model/config.js';

export interface TensorToWrite {
  dtype: WeightDtype;
  shape: number[];
  /** Raw little-endian bytes, shape.product * dtype size long. */
  data: Uint8Array;
}

export const DTYPE_BYTES: Record<WeightDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorSpec {
  name: string;
  dtype: WeightDtype;
  shape: number[];
}

/** Bytes of a tensor's data. */
export function tensorBytes(spec: TensorSpec): number {
  return spec.shape.reduce((n, d) => n * d, 1) * DTYPE_BYTES[spec.dtype];
}

/**
 * The bytes before the data: 8-byte little-endian header length, then the JSON header padded with
 * spaces so the data starts 8-byte aligned (as the reference writer does). `bytes` is each
 * tensor's data length, in order.
 */
function prefixFor(entries: readonly (TensorSpec & { bytes: number })[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes] };
    offset += e.bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const prefix = Buffer.alloc(8 + Buffer.byteLength(json));
  prefix.writeBigUInt64LE(BigInt(prefix.length - 8), 0);
  prefix.write(json, 8, 'utf8');
  return prefix;
}

/** The header bytes for tensors whose data will follow in order (see the streaming writer). */
export function safetensorsPrefix(specs: readonly TensorSpec[], metadata: Record<string, string> = { format: 'pt' }): Buffer {
  return prefixFor(specs.map((s) => ({ ...s, bytes: tensorBytes(s) })), metadata);
}

/**
 * Encodes tensors (in the order given) as one safetensors buffer. A tensor's data need not match
 * its shape: tests use that to build files whose offsets lie.
 */
export function encodeSafetensors(
  tensors: Map<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' },
): Buffer {
  const entries = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, bytes: t.data.byteLength }));
  return Buffer.concat([prefixFor(entries, metadata), ...[...tensors.values()].map((t) => t.data)]);
}

/** Rounds an f32 to bf16 (round to nearest even) and returns the 16-bit pattern. */
export function f32ToBf16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40; // NaN stays NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds an f32 to IEEE half (round to nearest even) and returns the 16-bit pattern. */
export function f32ToF16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** Encodes f32 values as little-endian bytes of the given dtype (rounding for f16/bf16). */
export function encodeValues(values: Float32Array, dtype: WeightDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  const round = dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < values.length; i++) out[i] = round(values[i]);
  return new Uint8Array(out.buffer);
}
