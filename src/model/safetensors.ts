/**
 * Reads safetensors headers (https://huggingface.co/docs/safetensors: an 8-byte little-endian
 * header length, a JSON header of {name: {dtype, shape, data_offsets}}, then the data). Only the
 * header is read; the native engine maps the data itself. Dtypes stay raw strings here so files
 * with tensors we never load (an I64 buffer, say) still open; the checkpoint checks the dtypes of
 * the tensors it needs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { NativeTensorRef } from '../native/binding.js';
import { DTYPE_BYTES, decodeTensorBytes, isWeightDtype } from './dtype-decode.js';
import { ModelLoadError } from './errors.js';
import { openModelFile } from './model-file.js';
import { isJsonObject } from './parse-config.js';

/** Headers are a few MB even for the largest checkpoints; more means the length is garbage. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  /** Raw dtype string from the header (not necessarily one the engine loads). */
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  /** Absolute path. */
  file: string;
  /** Absolute offset where the data section starts (8 + header length). */
  dataStart: number;
  tensors: Map<string, SafetensorsEntry>;
  /** The optional `__metadata__` string map. */
  metadata: Record<string, string>;
}

/**
 * Reads and validates a safetensors header without reading the tensor data.
 * @throws ModelLoadError FILE_NOT_FOUND when the file is missing; the codes of openModelFile when
 *   it is not a readable regular file;
 *   TRUNCATED_FILE when the file ends inside the length prefix, the header, or a tensor's data
 *   (naming that tensor); BAD_HEADER when the header length is implausible, the header is not a
 *   JSON object, or an entry lacks a string dtype or an integer shape; BAD_OFFSETS (naming the
 *   tensor) when data_offsets are malformed, reversed, disagree with shape × dtype size, or overlap
 *   another tensor.
 */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsFile> {
  const abs = path.resolve(file);
  const handle = await openFile(abs, undefined);
  try {
    const { size } = await handle.stat();
    if (size < 8) {
      throw new ModelLoadError('TRUNCATED_FILE', `${abs}: ${size} bytes is too short for the 8-byte header length`, abs);
    }
    const declared = (await readExactly(handle, 0, 8, abs, undefined)).readBigUInt64LE(0);
    if (declared > BigInt(MAX_HEADER_BYTES)) {
      throw new ModelLoadError('BAD_HEADER', `${abs}: header length ${declared} is implausible (file is ${size} bytes)`, abs);
    }
    const headerLength = Number(declared);
    const dataStart = 8 + headerLength;
    if (dataStart > size) {
      throw new ModelLoadError(
        'TRUNCATED_FILE',
        `${abs}: header declares ${headerLength} bytes but the file has only ${size - 8} after the length`,
        abs,
      );
    }
    const text = (await readExactly(handle, 8, headerLength, abs, undefined)).toString('utf8');
    const { tensors, metadata } = parseHeader(text, abs, dataStart);
    checkOffsets(tensors, abs, size);
    return { file: abs, dataStart, tensors, metadata };
  } finally {
    await handle.close();
  }
}

/** The byte range readTensorValues needs: a NativeTensorRef or anything shaped like one. */
export type TensorBytes = Pick<NativeTensorRef, 'name' | 'file' | 'offset' | 'byteLength' | 'dtype'>;

/**
 * Reads one tensor's bytes and decodes them exactly to doubles (for the test-only dense
 * reference; the engine never goes through this).
 * @throws ModelLoadError FILE_NOT_FOUND when the file is missing (or the codes of openModelFile);
 *   TRUNCATED_FILE (naming the tensor) when the file ends before the tensor does; UNKNOWN_DTYPE for a
 *   quantized GGUF tensor (test/reference/ggml-dequant.ts decodes those).
 */
export async function readTensorValues(ref: TensorBytes): Promise<Float64Array> {
  const { dtype } = ref;
  if (!isWeightDtype(dtype)) {
    throw new ModelLoadError('UNKNOWN_DTYPE', `${ref.file}: tensor "${ref.name}" is ${dtype}; only F32, F16 and BF16 decode here`, ref.file, ref.name);
  }
  const handle = await openFile(ref.file, ref.name);
  try {
    return decodeTensorBytes(await readExactly(handle, ref.offset, ref.byteLength, ref.file, ref.name), dtype);
  } finally {
    await handle.close();
  }
}

async function openFile(file: string, tensor: string | undefined): Promise<fs.FileHandle> {
  const handle = await openModelFile(file, tensor);
  if (handle === undefined) throw new ModelLoadError('FILE_NOT_FOUND', `${file}: no such file`, file, tensor);
  return handle;
}

/** Reads `length` bytes at `position`, looping over short reads. */
async function readExactly(
  handle: fs.FileHandle,
  position: number,
  length: number,
  file: string,
  tensor: string | undefined,
): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      const what = tensor ? `tensor "${tensor}"` : 'header';
      throw new ModelLoadError('TRUNCATED_FILE', `${file}: file ends inside ${what} at byte ${position + done}`, file, tensor);
    }
    done += bytesRead;
  }
  return buf;
}

function parseHeader(
  text: string,
  file: string,
  dataStart: number,
): { tensors: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError('BAD_HEADER', `${file}: header is not valid JSON (${(err as Error).message})`, file);
  }
  if (!isJsonObject(json)) throw new ModelLoadError('BAD_HEADER', `${file}: header is not a JSON object`, file);

  const { __metadata__: rawMetadata, ...entries } = json;
  if (rawMetadata !== undefined && !(isJsonObject(rawMetadata) && Object.values(rawMetadata).every((v) => typeof v === 'string'))) {
    throw new ModelLoadError('BAD_HEADER', `${file}: __metadata__ must map strings to strings`, file);
  }
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, entry] of Object.entries(entries)) {
    tensors.set(name, parseEntry(name, entry, file, dataStart));
  }
  return { tensors, metadata: (rawMetadata ?? {}) as Record<string, string> };
}

function parseEntry(name: string, entry: unknown, file: string, dataStart: number): SafetensorsEntry {
  const bad = (code: 'BAD_HEADER' | 'BAD_OFFSETS', what: string) =>
    new ModelLoadError(code, `${file}: tensor "${name}" ${what}`, file, name);

  if (!isJsonObject(entry)) throw bad('BAD_HEADER', 'has no {dtype, shape, data_offsets} entry');
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw bad('BAD_HEADER', `has dtype ${JSON.stringify(dtype)}, not a string`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
    throw bad('BAD_HEADER', `has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
    throw bad('BAD_OFFSETS', `has data_offsets ${JSON.stringify(offsets)}, not two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad('BAD_OFFSETS', `has data_offsets [${begin}, ${end}] that end before they begin`);
  const elementBytes = DTYPE_BYTES[dtype];
  const expected = elementBytes === undefined ? undefined : (shape as number[]).reduce((a, b) => a * b, 1) * elementBytes;
  if (expected !== undefined && end - begin !== expected) {
    throw bad(
      'BAD_OFFSETS',
      `spans ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
    );
  }
  return { dtype, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin };
}

/** Tensors must not overlap one another or run past the end of the file. */
function checkOffsets(tensors: Map<string, SafetensorsEntry>, file: string, size: number): void {
  // Empty tensors occupy no bytes, so they cannot overlap anything.
  const byOffset = [...tensors].filter(([, t]) => t.byteLength > 0).sort(([, a], [, b]) => a.offset - b.offset);
  let previous: [string, SafetensorsEntry] | undefined;
  for (const [name, t] of byOffset) {
    if (previous && t.offset < previous[1].offset + previous[1].byteLength) {
      throw new ModelLoadError('BAD_OFFSETS', `${file}: tensor "${name}" overlaps tensor "${previous[0]}"`, file, name);
    }
    if (t.offset + t.byteLength > size) {
      throw new ModelLoadError(
        'TRUNCATED_FILE',
        `${file}: tensor "${name}" ends at byte ${t.offset + t.byteLength} but the file has ${size} bytes`,
        file,
        name,
      );
    }
    previous = [name, t];
  }
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
