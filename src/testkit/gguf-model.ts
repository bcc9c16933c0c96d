/**
 * Writes a random test model (the weights writeRandomCheckpoint writes for the same options) as
 * one GGUF file, the way llama.cpp's converter lays it out: GGUF tensor names, dimensions
 * fastest-first, norms and biases in F32, matrices in the type asked for, the tokenizer as
 * `tokenizer.ggml.*` metadata, and, for the llama architecture, the q/k rows of each head
 * reordered for interleaved rope (pairs (j, j + d/2) moved to (2j, 2j + 1)).
 */
import type { WeightDtype } from '../model/config.js';
import { decodeTensorBytes } from '../model/dtype-decode.js';
import type { GgmlType } from '../model/gguf/ggml-types.js';
import { GGML_TYPES, ggmlTensorBytes } from '../model/gguf/ggml-types.js';
import { ggufTensorName } from '../model/gguf/gguf-tensors.js';
import { encodeGgml } from './gguf-quantize.js';
import { encodeValues } from './safetensors-writer.js';
import { writeGgufStreaming, type GgufTensorEntry, type GgufTyped } from './gguf-writer.js';
import { randomValues, tensorList, validateRandomCheckpoint, type RandomCheckpointOptions } from './random-checkpoint.js';
import { ADDED_TOKENS, buildTokenizerFiles, CHATML_TEMPLATE } from './tokenizer-files.js';

export interface RandomGgufOptions {
  /** Type of the matrices (embeddings and output included); norms and biases stay F32. */
  type: GgmlType;
  /** Overrides `type` per tensor (by Hugging Face name), as llama.cpp's mixed quantizations do. */
  typeFor?: (hfName: string) => GgmlType | undefined;
  /**
   * The dtype of the checkpoint this file stands for as if converted from it: every value is first
   * rounded to it, so F32 norms and biases hold what that checkpoint's do. Default F32 (no rounding).
   */
  convertedFrom?: WeightDtype;
}

/** llama_token_type values. */
const NORMAL = 1;
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;

export type RandomGgufTensor = GgufTensorEntry & { hfName: string; type: GgmlType };

export interface RandomGgufContents {
  metadata: [string, GgufTyped][];
  tensors: RandomGgufTensor[];
  /** A tensor's bytes, computed on demand. */
  dataOf: (tensor: RandomGgufTensor) => Uint8Array;
}

/** Writes `file`. `options.dtype` is ignored: the values are the f32 ones, encoded in `gguf.type`. */
export function writeRandomGguf(file: string, options: RandomCheckpointOptions, gguf: RandomGgufOptions): void {
  const { metadata, tensors, dataOf } = randomGgufContents(options, gguf);
  writeGgufStreaming(file, metadata, tensors, dataOf);
}

/** What writeRandomGguf writes, for tests that edit it into broken files (see encodeGguf). */
export function randomGgufContents(options: RandomCheckpointOptions, gguf: RandomGgufOptions): RandomGgufContents {
  const tokenizer = buildTokenizerFiles(options.bpeVocabSize);
  validateRandomCheckpoint(options, tokenizer.size);
  const list = tensorList(options);
  const typeOf = (name: string, shape: number[]): GgmlType => (shape.length === 1 ? 'F32' : (gguf.typeFor?.(name) ?? gguf.type));
  const tensors: RandomGgufTensor[] = list.map(({ spec }) => {
    const type = typeOf(spec.name, spec.shape);
    const [rows, cols] = spec.shape.length === 2 ? spec.shape : [1, spec.shape[0]];
    return {
      name: ggufTensorName(spec.name),
      hfName: spec.name,
      type,
      dims: [...spec.shape].reverse(),
      typeId: GGML_TYPES[type].id,
      byteLength: ggmlTensorBytes(type, rows, cols),
    };
  });
  const inits = new Map(list.map((t) => [t.spec.name, t]));
  const headDim = options.hiddenSize / options.numHeads;
  const dataOf = (tensor: RandomGgufTensor): Uint8Array => {
    const { spec, init } = inits.get(tensor.hfName)!;
    let values = randomValues(spec, init, options.seed);
    if (gguf.convertedFrom && gguf.convertedFrom !== 'F32') values = Float32Array.from(decodeTensorBytes(encodeValues(values, gguf.convertedFrom), gguf.convertedFrom));
    if (options.architecture === 'llama') {
      if (spec.name.endsWith('q_proj.weight')) values = interleaveRopeRows(values, options.numHeads, headDim, options.hiddenSize);
      if (spec.name.endsWith('k_proj.weight')) values = interleaveRopeRows(values, options.numKvHeads, headDim, options.hiddenSize);
    }
    return encodeGgml(values, spec.shape[spec.shape.length - 1], tensor.type);
  };
  return { metadata: ggufMetadata(options, tokenizer), tensors, dataOf };
}

/** Row (h, 2j + r) of the result is row (h, r·d/2 + j) of `w`: llama.cpp's permutation for llama q/k. */
function interleaveRopeRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let r = 0; r < 2; r++) {
        const from = (h * headDim + r * half + j) * cols;
        out.set(w.subarray(from, from + cols), (h * headDim + 2 * j + r) * cols);
      }
    }
  }
  return out;
}

function ggufMetadata(o: RandomCheckpointOptions, tokenizer: ReturnType<typeof buildTokenizerFiles>): [string, GgufTyped][] {
  const arch = o.architecture;
  const u32 = (value: number): GgufTyped => ({ type: 'u32', value });
  const f32 = (value: number): GgufTyped => ({ type: 'f32', value });
  const model = tokenizer.tokenizerJson.model as { vocab: Record<string, number>; merges: [string, string][] };
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [text, id] of Object.entries(model.vocab)) [tokens[id], types[id]] = [text, NORMAL];
  for (const text of ADDED_TOKENS) {
    const id = tokenizer.ids[text];
    // ChatML tokens are special (control); the Multiverse tags are ordinary added tokens.
    [tokens[id], types[id]] = [text, text.startsWith('<|') ? CONTROL : USER_DEFINED];
  }
  // Rows of the embedding beyond the tokenizer, named as llama.cpp's converter names them.
  for (let id = tokenizer.size; id < o.vocabSize; id++) [tokens[id], types[id]] = [`[PAD${id}]`, UNUSED];
  return [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: `random ${arch} seed ${o.seed}` }],
    [`${arch}.context_length`, u32(o.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, u32(o.hiddenSize)],
    [`${arch}.block_count`, u32(o.numLayers)],
    [`${arch}.feed_forward_length`, u32(o.intermediateSize)],
    [`${arch}.attention.head_count`, u32(o.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(o.numKvHeads)],
    [`${arch}.rope.freq_base`, f32(o.ropeTheta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(arch === 'qwen2' ? 1e-6 : 1e-5)],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', of: 'string', value: model.merges.map(([a, b]) => `${a} ${b}`) }],
    ['tokenizer.ggml.bos_token_id', u32(tokenizer.ids['<|endoftext|>'])],
    ['tokenizer.ggml.eos_token_id', u32(tokenizer.ids['<|im_end|>'])],
    ['tokenizer.ggml.padding_token_id', u32(tokenizer.ids['<|endoftext|>'])],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: CHATML_TEMPLATE }],
  ];
}
