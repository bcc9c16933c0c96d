/**
 * Writes a Hugging Face checkpoint folder with seeded random weights: config.json and
 * generation_config.json as transformers writes them for Qwen2ForCausalLM / LlamaForCausalLM,
 * our test tokenizer, and the weights in safetensors (optionally sharded with an index).
 * Tests and benchmarks use it to get real-format models without downloading any.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Architecture, WeightDtype } from '../model/config.js';
import { deriveSeed, Prng } from './prng.js';
import { encodeValues, tensorBytes, type TensorSpec } from './safetensors-writer.js';
import { writeSafetensorsStreaming } from './safetensors-stream-writer.js';
import { buildTokenizerFiles, writeTokenizerFiles } from './tokenizer-files.js';

export interface RandomCheckpointOptions {
  architecture: Architecture;
  dtype: WeightDtype;
  seed: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Model vocab (embedding rows); at least the tokenizer's size, the rows beyond it are padding. */
  vocabSize: number;
  /** Entries of the trained BPE (256 bytes + merges); the 15 added tokens come after. */
  bpeVocabSize: number;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  /** Number of safetensors files; above 1 also writes model.safetensors.index.json. Default 1. */
  shards?: number;
  /** Called as weight data is written, with the bytes written so far and the total. */
  onProgress?: (written: number, total: number) => void;
}

export interface RandomCheckpoint {
  /** Weight files written, relative to the folder. */
  weightFiles: string[];
  /** Parameters in all tensors. */
  numParams: number;
  /** Token ids the tokenizer defines (BPE plus added tokens). */
  tokenizerSize: number;
}

/** The model of the test suite: builds in milliseconds, 16 padding rows beyond its 496 tokens. */
export const TINY: RandomCheckpointOptions = {
  architecture: 'qwen2',
  dtype: 'F32',
  seed: 1,
  hiddenSize: 64,
  intermediateSize: 128,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  vocabSize: 512,
  bpeVocabSize: 481,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 2048,
  ropeTheta: 10000,
};

/**
 * About 150M parameters (a GPT-2-small-sized Qwen2 with grouped KV heads) for benchmarks: 600 MB
 * in f32. The vocab of 32000 is mostly padding beyond the 1039-token tokenizer (our corpus is too
 * small for a larger BPE).
 */
export const BENCH_150M: RandomCheckpointOptions = {
  architecture: 'qwen2',
  dtype: 'F32',
  seed: 1,
  hiddenSize: 768,
  intermediateSize: 3072,
  numLayers: 12,
  numHeads: 12,
  numKvHeads: 4,
  vocabSize: 32000,
  bpeVocabSize: 1024,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 4096,
  ropeTheta: 1000000,
};

const TRANSFORMERS_VERSION = '4.46.0';
const TORCH_DTYPE: Record<WeightDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
// Values generated (and encoded) at a time: bounds memory whatever the tensor size.
const CHUNK_ELEMENTS = 1 << 20;

export type Init = 'matrix' | 'bias' | 'norm';

/** Writes the checkpoint folder `dir` (created if needed). Same options, same bytes. */
export function writeRandomCheckpoint(dir: string, options: RandomCheckpointOptions): RandomCheckpoint {
  const tokenizer = buildTokenizerFiles(options.bpeVocabSize);
  validateRandomCheckpoint(options, tokenizer.size);
  const tensors = tensorList(options);
  const specs = tensors.map((t) => t.spec);
  const shards = splitIntoShards(specs, options.shards ?? 1);
  fs.mkdirSync(dir, { recursive: true });

  const ids = tokenizer.ids;
  writeJson(path.join(dir, 'config.json'), hfConfig(options, ids['<|endoftext|>'], ids['<|im_end|>']));
  writeJson(path.join(dir, 'generation_config.json'), {
    bos_token_id: ids['<|endoftext|>'],
    eos_token_id: [ids['<|im_end|>'], ids['<|endoftext|>']],
    pad_token_id: ids['<|endoftext|>'],
    transformers_version: TRANSFORMERS_VERSION,
  });
  writeTokenizerFiles(dir, tokenizer);

  const inits = new Map(tensors.map((t) => [t.spec.name, t.init]));
  const chunks = (spec: TensorSpec) => randomChunks(spec, inits.get(spec.name)!, options.seed);
  const total = specs.reduce((n, s) => n + tensorBytes(s), 0);
  let written = 0;
  const onBytes = (bytes: number) => options.onProgress?.((written += bytes), total);

  const weightFiles =
    shards.length === 1
      ? ['model.safetensors']
      : shards.map((_, i) => `model-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`);
  shards.forEach((shard, i) => writeSafetensorsStreaming(path.join(dir, weightFiles[i]), shard, chunks, onBytes));
  if (shards.length > 1) {
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => shard.forEach((spec) => (weightMap[spec.name] = weightFiles[i])));
    writeJson(path.join(dir, 'model.safetensors.index.json'), { metadata: { total_size: total }, weight_map: weightMap });
  }

  const numParams = specs.reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
  return { weightFiles, numParams, tokenizerSize: tokenizer.size };
}

/** @throws RangeError for sizes that make no model. */
export function validateRandomCheckpoint(o: RandomCheckpointOptions, tokenizerSize: number): void {
  const positive = ['hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'vocabSize', 'maxPositionEmbeddings'] as const;
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) throw new RangeError(`${key} must be a positive integer, got ${o[key]}`);
  }
  if (o.hiddenSize % o.numHeads !== 0) throw new RangeError(`hiddenSize ${o.hiddenSize} is not a multiple of numHeads ${o.numHeads}`);
  if (o.numHeads % o.numKvHeads !== 0) throw new RangeError(`numHeads ${o.numHeads} is not a multiple of numKvHeads ${o.numKvHeads}`);
  if (o.vocabSize < tokenizerSize) throw new RangeError(`vocabSize ${o.vocabSize} is smaller than the tokenizer (${tokenizerSize} ids)`);
}

/** config.json with the fields (and defaults) transformers writes for each architecture. */
function hfConfig(o: RandomCheckpointOptions, bosId: number, eosId: number): Record<string, unknown> {
  const common = {
    attention_dropout: 0,
    bos_token_id: bosId,
    eos_token_id: eosId,
    hidden_act: 'silu',
    hidden_size: o.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: o.intermediateSize,
    max_position_embeddings: o.maxPositionEmbeddings,
    num_attention_heads: o.numHeads,
    num_hidden_layers: o.numLayers,
    num_key_value_heads: o.numKvHeads,
    rope_scaling: null,
    rope_theta: o.ropeTheta,
    tie_word_embeddings: o.tieWordEmbeddings,
    torch_dtype: TORCH_DTYPE[o.dtype],
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: o.vocabSize,
  };
  if (o.architecture === 'qwen2') {
    return {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      ...common,
      max_window_layers: o.numLayers,
      rms_norm_eps: 1e-6,
      sliding_window: o.maxPositionEmbeddings,
      use_sliding_window: false,
    };
  }
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...common,
    attention_bias: false,
    head_dim: o.hiddenSize / o.numHeads,
    mlp_bias: false,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
  };
}

/** Every tensor with its HF name, shape and how it is initialised, in file order. */
export function tensorList(o: RandomCheckpointOptions): { spec: TensorSpec; init: Init }[] {
  const headDim = o.hiddenSize / o.numHeads;
  const q = o.numHeads * headDim;
  const kv = o.numKvHeads * headDim;
  const out: { spec: TensorSpec; init: Init }[] = [];
  const add = (name: string, shape: number[], init: Init) => out.push({ spec: { name, dtype: o.dtype, shape }, init });

  add('model.embed_tokens.weight', [o.vocabSize, o.hiddenSize], 'matrix');
  for (let i = 0; i < o.numLayers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [o.hiddenSize], 'norm');
    add(`${p}.self_attn.q_proj.weight`, [q, o.hiddenSize], 'matrix');
    add(`${p}.self_attn.k_proj.weight`, [kv, o.hiddenSize], 'matrix');
    add(`${p}.self_attn.v_proj.weight`, [kv, o.hiddenSize], 'matrix');
    if (o.architecture === 'qwen2') {
      add(`${p}.self_attn.q_proj.bias`, [q], 'bias');
      add(`${p}.self_attn.k_proj.bias`, [kv], 'bias');
      add(`${p}.self_attn.v_proj.bias`, [kv], 'bias');
    }
    add(`${p}.self_attn.o_proj.weight`, [o.hiddenSize, q], 'matrix');
    add(`${p}.post_attention_layernorm.weight`, [o.hiddenSize], 'norm');
    add(`${p}.mlp.gate_proj.weight`, [o.intermediateSize, o.hiddenSize], 'matrix');
    add(`${p}.mlp.up_proj.weight`, [o.intermediateSize, o.hiddenSize], 'matrix');
    add(`${p}.mlp.down_proj.weight`, [o.hiddenSize, o.intermediateSize], 'matrix');
  }
  add('model.norm.weight', [o.hiddenSize], 'norm');
  if (!o.tieWordEmbeddings) add('lm_head.weight', [o.vocabSize, o.hiddenSize], 'matrix');
  return out;
}

/**
 * A tensor's values, chunk by chunk. Each tensor has its own stream (seeded by the checkpoint seed
 * and its name), so its values do not depend on the dtype, the sharding or the other tensors.
 * Matrices and biases are 0.02·N(0,1), the usual init scale, which keeps logits of order one;
 * norm weights are 1 + 0.1·N(0,1) so that a kernel ignoring them would be caught.
 */
function* randomChunks(spec: TensorSpec, init: Init, seed: number): Generator<Uint8Array> {
  for (const values of randomValueChunks(spec, init, seed)) yield encodeValues(values, spec.dtype);
}

function* randomValueChunks(spec: TensorSpec, init: Init, seed: number): Generator<Float32Array> {
  const prng = new Prng(deriveSeed(seed, spec.name));
  const [scale, offset] = init === 'norm' ? [0.1, 1] : [0.02, 0];
  const count = spec.shape.reduce((n, d) => n * d, 1);
  for (let start = 0; start < count; start += CHUNK_ELEMENTS) {
    const values = new Float32Array(Math.min(CHUNK_ELEMENTS, count - start));
    for (let i = 0; i < values.length; i++) values[i] = offset + scale * prng.normalish();
    yield values;
  }
}

/** A tensor's values before encoding: what the checkpoint of this seed holds, in any dtype, before rounding. */
export function randomValues(spec: TensorSpec, init: Init, seed: number): Float32Array {
  const out = new Float32Array(spec.shape.reduce((n, d) => n * d, 1));
  let at = 0;
  for (const chunk of randomValueChunks(spec, init, seed)) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Splits tensors, in order, into `n` non-empty runs of roughly equal bytes. */
function splitIntoShards(specs: TensorSpec[], n: number): TensorSpec[][] {
  if (!Number.isInteger(n) || n < 1 || n > specs.length) {
    throw new RangeError(`shards must be an integer from 1 to ${specs.length} (the tensor count), got ${n}`);
  }
  const total = specs.reduce((sum, s) => sum + tensorBytes(s), 0);
  const shards: TensorSpec[][] = [[]];
  let done = 0;
  specs.forEach((spec, i) => {
    const current = shards[shards.length - 1];
    const toOpen = n - shards.length;
    // Open the next shard once this one holds its share, or when each remaining tensor needs its own.
    if (current.length > 0 && toOpen > 0 && (done >= (total * shards.length) / n || specs.length - i <= toOpen)) {
      shards.push([]);
    }
    shards[shards.length - 1].push(spec);
    done += tensorBytes(spec);
  });
  return shards;
}

function pad5(i: number): string {
  return String(i).padStart(5, '0');
}

/** Writes JSON with sorted keys and a 2-space indent, as transformers does for these files. */
function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(sortKeys(value), null, 2) + '\n');
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}
