/**
 * Writes a safetensors file tensor by tensor, chunk by chunk, so a checkpoint of hundreds of MB
 * never has to sit in the JS heap. The layout is byte for byte what `encodeSafetensors` produces
 * for the same tensors in the same order.
 */
import fs from 'node:fs';
import { safetensorsPrefix, tensorBytes, type TensorSpec } from './safetensors-writer.js';

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
