/**
 * Parses a GGUF file's header (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): magic
 * "GGUF", version 2 or 3, tensor and metadata counts, the metadata key/values, the tensor table
 * (name, dims fastest-first, type, offset relative to the data section), then padding to
 * `general.alignment` (default 32) where the data section starts. Tensor data is not read.
 */
import fs from 'node:fs';
import { ModelLoadError } from '../errors.js';
import { FileCursor } from './file-cursor.js';

/** A metadata value: numbers (all integer and float widths), booleans, strings, or arrays of them. */
export type GgufValue = number | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** Dimensions as GGUF lists them: fastest-varying first (ne[0] = a row's length). */
  dims: number[];
  /** The ggml type id (see ggml-types.ts). */
  typeId: number;
  /** Absolute byte offset of the data in the file. */
  offset: number;
}

export interface GgufHeader {
  file: string;
  version: number;
  /** File size in bytes. */
  size: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset where the data section starts. */
  dataOffset: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS

/** Value type ids and the bytes a scalar of each takes (strings: at least their 8-byte length). */
const SCALAR_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 10: 8, 11: 8, 12: 8 };
const TYPE_STRING = 8;
const TYPE_ARRAY = 9;

/**
 * Reads the header of `file`.
 * @throws ModelLoadError FILE_NOT_FOUND; BAD_HEADER for a wrong magic, an unsupported version, an
 *   unknown value type, a malformed tensor entry or a duplicate name; TRUNCATED_FILE when a field
 *   runs past the end; BAD_OFFSETS for a bad alignment or a tensor offset not aligned.
 */
export function readGgufHeader(file: string): GgufHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw new ModelLoadError('FILE_NOT_FOUND', `${file}: no such file`, file);
    throw e;
  }
  try {
    return parse(new FileCursor(fd, fs.fstatSync(fd).size, file));
  } finally {
    fs.closeSync(fd);
  }
}

function parse(c: FileCursor): GgufHeader {
  const bad = (message: string): never => {
    throw new ModelLoadError('BAD_HEADER', `${c.file}: ${message}`, c.file);
  };
  if (c.size < 4 || c.u32('the magic') !== MAGIC) bad('not a GGUF file (the first four bytes are not "GGUF")');
  const version = c.u32('the version');
  if (version !== 2 && version !== 3) bad(`GGUF version ${version} is not supported (versions 2 and 3 are)`);
  const tensorCount = c.u64('the tensor count');
  const metadataCount = c.u64('the metadata count');

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < metadataCount; i++) {
    const key = c.string(`metadata key ${i}`);
    metadata.set(key, readValue(c, c.u32(`the type of ${key}`), key, bad));
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  const relative: number[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor name ${i}`);
    if (names.has(name)) bad(`tensor "${name}" is listed twice`);
    names.add(name);
    const nDims = c.u32(`the dimension count of ${name}`);
    if (nDims < 1 || nDims > MAX_DIMS) bad(`tensor "${name}" has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`);
    const dims = Array.from({ length: nDims }, (_, d) => c.u64(`dimension ${d} of ${name}`));
    const typeId = c.u32(`the type of ${name}`);
    relative.push(c.u64(`the offset of ${name}`));
    tensors.push({ name, dims, typeId, offset: 0 });
  }

  const alignment = metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new ModelLoadError('BAD_OFFSETS', `${c.file}: general.alignment is ${String(alignment)}, not a power of two`, c.file);
  }
  c.alignTo(alignment);
  const dataOffset = c.pos;
  tensors.forEach((t, i) => {
    if (relative[i] % alignment !== 0) {
      throw new ModelLoadError('BAD_OFFSETS', `${c.file}: tensor "${t.name}" starts at data offset ${relative[i]}, not a multiple of the alignment ${alignment}`, c.file, t.name);
    }
    t.offset = dataOffset + relative[i];
  });
  return { file: c.file, version, size: c.size, metadata, tensors, alignment, dataOffset };
}

function readValue(c: FileCursor, type: number, key: string, bad: (message: string) => never): GgufValue {
  switch (type) {
    case 0: return c.u8(key);
    case 1: return (c.u8(key) << 24) >> 24;
    case 2: return c.u8(key) | (c.u8(key) << 8);
    case 3: return ((c.u8(key) | (c.u8(key) << 8)) << 16) >> 16;
    case 4: return c.u32(key);
    case 5: return c.i32(key);
    case 6: return c.f32(key);
    case 7: return c.u8(key) !== 0;
    case TYPE_STRING: return c.string(key);
    case 10: return c.u64(key);
    case 11: return c.i64(key);
    case 12: return c.f64(key);
    case TYPE_ARRAY: {
      const elementType = c.u32(`the element type of ${key}`);
      const count = c.u64(`the length of ${key}`);
      const minBytes = SCALAR_BYTES[elementType] ?? (elementType === TYPE_ARRAY ? 12 : bad(`${key} is an array of unknown value type ${elementType}`));
      // Checked before allocating: a corrupt count must not become a huge array.
      c.require(count * minBytes, `the ${count} elements of ${key}`);
      const out: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = readValue(c, elementType, key, bad);
      return out;
    }
    default:
      return bad(`metadata ${key} has unknown value type ${type}`);
  }
}
