/**
 * Writes a safetensors file tensor by tensor, chunk by chunk, so a checkpoint of hundreds of MB
 * never has to sit in the JS heap. The layout is byte for byte what `encodeSafetensors` produces
 * for the same tensors in the same order.
 */
import fs from 'node:fs';
import type { WeightDtype } from '../model/config.js';
import { DTYPE_BYTES } from './safetensors-writer.js';

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
 * spaces so the data starts 8-byte aligned (as the reference writer does).
 */
export function safetensorsPrefix(specs: readonly TensorSpec[], metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const spec of specs) {
    const size = tensorBytes(spec);
    header[spec.name] = { dtype: spec.dtype, shape: spec.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const prefix = Buffer.alloc(8 + Buffer.byteLength(json));
  prefix.writeBigUInt64LE(BigInt(prefix.length - 8), 0);
  prefix.write(json, 8, 'utf8');
  return prefix;
}

/**
 * Writes `specs` to `file`, taking each tensor's data from `chunks(spec)` (little-endian bytes,
 * in order, any chunking). Throws if a tensor's chunks do not add up to its size.
 * `onBytes` is called after each chunk with the number of data bytes written.
 */
export function writeSafetensorsStreaming(
  file: string,
  specs: readonly TensorSpec[],
  chunks: (spec: TensorSpec) => Iterable<Uint8Array>,
  onBytes?: (bytes: number) => void,
): void {
  const fd = fs.openSync(file, 'w');
  try {
    writeAll(fd, safetensorsPrefix(specs));
    for (const spec of specs) {
      let written = 0;
      for (const chunk of chunks(spec)) {
        writeAll(fd, chunk);
        written += chunk.byteLength;
        onBytes?.(chunk.byteLength);
      }
      if (written !== tensorBytes(spec)) {
        throw new Error(`${file}: tensor ${spec.name} got ${written} bytes of data, expected ${tensorBytes(spec)}`);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.byteLength; ) at += fs.writeSync(fd, data, at, data.byteLength - at);
}
