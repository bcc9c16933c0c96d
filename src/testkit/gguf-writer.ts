/**
 * Writes GGUF files (version 3, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): the
 * header with typed metadata and the tensor table, padding to the alignment, then each tensor's
 * data, each padded to the alignment. Tests and benches use it to make GGUF models, and to make
 * deliberately broken files.
 */
import fs from 'node:fs';

/** A metadata value with its GGUF value type. */
export type GgufTyped =
  | { type: 'u32' | 'i32' | 'f32' | 'u64' | 'f64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: 'string'; value: string[] }
  | { type: 'array'; of: 'i32' | 'u32' | 'f32'; value: number[] };

export interface GgufTensorEntry {
  name: string;
  /** ggml order: fastest-varying first ([in, out] for a matrix). */
  dims: number[];
  /** ggml type id. */
  typeId: number;
  byteLength: number;
}

const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, f64: 12 } as const;
export const GGUF_ALIGNMENT = 32;

/** Growable little-endian byte buffer. */
class Bytes {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  /** A fixed-size number, written by `write` into a fresh buffer. */
  private put(size: number, write: (b: Buffer) => unknown): void {
    const b = Buffer.alloc(size);
    write(b);
    this.push(b);
  }
  u32(v: number): void {
    this.put(4, (b) => b.writeUInt32LE(v));
  }
  i32(v: number): void {
    this.put(4, (b) => b.writeInt32LE(v));
  }
  u64(v: number): void {
    this.put(8, (b) => b.writeBigUInt64LE(BigInt(v)));
  }
  f32(v: number): void {
    this.put(4, (b) => b.writeFloatLE(v));
  }
  f64(v: number): void {
    this.put(8, (b) => b.writeDoubleLE(v));
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeScalar(out: Bytes, type: Exclude<GgufTyped['type'], 'array'>, value: number | boolean | string): void {
  if (type === 'string') out.string(value as string);
  else if (type === 'bool') out.push(Buffer.of(value ? 1 : 0));
  else out[type](value as number);
}

/** The bytes before the data: header, metadata, tensor table, padding to the alignment. Offsets are laid out in order. */
export function ggufHeaderBytes(metadata: readonly [string, GgufTyped][], tensors: readonly GgufTensorEntry[]): Buffer {
  const out = new Bytes();
  out.push(Buffer.from('GGUF', 'latin1'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, v] of metadata) {
    out.string(key);
    out.u32(VALUE_TYPE[v.type]);
    if (v.type === 'array') {
      out.u32(VALUE_TYPE[v.of]);
      out.u64(v.value.length);
      for (const item of v.value) writeScalar(out, v.of, item);
    } else {
      writeScalar(out, v.type, v.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.typeId);
    out.u64(offset);
    offset += padded(t.byteLength);
  }
  out.push(Buffer.alloc(padded(out.length) - out.length));
  return out.toBuffer();
}

/** A whole GGUF file in memory (small test files). */
export function encodeGguf(metadata: readonly [string, GgufTyped][], tensors: readonly (Omit<GgufTensorEntry, 'byteLength'> & { data: Uint8Array })[]): Buffer {
  const entries = tensors.map((t) => ({ ...t, byteLength: t.data.byteLength }));
  const parts: Buffer[] = [ggufHeaderBytes(metadata, entries)];
  for (const t of tensors) parts.push(Buffer.from(t.data), Buffer.alloc(padded(t.data.byteLength) - t.data.byteLength));
  return Buffer.concat(parts);
}

/**
 * Writes a GGUF file tensor by tensor: `dataOf` is called once per tensor, in order, so only one
 * tensor's bytes are in memory at a time (the bench model is hundreds of MB).
 */
export function writeGgufStreaming<T extends GgufTensorEntry>(
  file: string,
  metadata: readonly [string, GgufTyped][],
  tensors: readonly T[],
  dataOf: (tensor: T) => Uint8Array,
): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, ggufHeaderBytes(metadata, tensors));
    for (const t of tensors) {
      const data = dataOf(t);
      if (data.byteLength !== t.byteLength) throw new Error(`${t.name}: ${data.byteLength} bytes of data, ${t.byteLength} declared`);
      fs.writeSync(fd, data);
      fs.writeSync(fd, Buffer.alloc(padded(t.byteLength) - t.byteLength));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function padded(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}
