/**
 * The ggml tensor types the engine loads, with their ids in a GGUF tensor table and their block
 * layout (elements per block, bytes per block), as ggml defines them (ggml.h, ggml-common.h).
 */

/** Tensor element types a GGUF model may use for its weights in this engine. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K';

export interface GgmlTypeInfo {
  /** The id in a GGUF tensor table (enum ggml_type). */
  id: number;
  /** Elements per block: a row's length must be a multiple of it. */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

export const GGML_TYPES: Readonly<Record<GgmlType, GgmlTypeInfo>> = {
  F32: { id: 0, blockSize: 1, blockBytes: 4 },
  F16: { id: 1, blockSize: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockSize: 32, blockBytes: 18 }, // f16 d, 16 bytes of nibbles
  Q8_0: { id: 8, blockSize: 32, blockBytes: 34 }, // f16 d, 32 int8
  Q4_K: { id: 12, blockSize: 256, blockBytes: 144 }, // f16 d, f16 dmin, 12 bytes scales/mins, 128 bytes nibbles
  Q6_K: { id: 14, blockSize: 256, blockBytes: 210 }, // 128 ql, 64 qh, 16 int8 scales, f16 d
  BF16: { id: 30, blockSize: 1, blockBytes: 2 },
};

/** Names of the ggml types we do not load, so an error can say what a file holds. */
const OTHER_TYPE_NAMES: Readonly<Record<number, string>> = {
  3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 13: 'Q5_K', 15: 'Q8_K',
  16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S',
  23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0',
};

const BY_ID = new Map(Object.entries(GGML_TYPES).map(([name, info]) => [info.id, name as GgmlType]));

/** The type with this id, or undefined when the engine does not load it. */
export function ggmlTypeOf(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

/** A readable name for any type id, loaded or not. */
export function ggmlTypeName(id: number): string {
  return BY_ID.get(id) ?? OTHER_TYPE_NAMES[id] ?? `type ${id}`;
}

/** Bytes of a row-major tensor of `rows` rows of `cols` elements; cols must be a multiple of the block size. */
export function ggmlTensorBytes(type: GgmlType, rows: number, cols: number): number {
  const { blockSize, blockBytes } = GGML_TYPES[type];
  return rows * (cols / blockSize) * blockBytes;
}
