/**
 * Builds tiny Hugging Face checkpoint folders for loader tests: config.json, weights (one file or
 * two shards with an index), and a placeholder tokenizer.json. The tensor list is written out by
 * hand from the Hugging Face layout, independently of src/model/tensor-layout.ts, so tests compare
 * the loader against it rather than against itself.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Architecture, WeightDtype } from '../../src/model/config.js';
import { encodeSafetensors, encodeValues, type TensorToWrite } from '../../src/testkit/safetensors-writer.js';

/** hidden 8 = 2 heads × head_dim 4, one KV head (GQA), one layer. */
export const DIMS = { hidden: 8, heads: 2, kvHeads: 1, headDim: 4, inter: 16, vocab: 32 } as const;

export interface FixtureOptions {
  architecture?: Architecture;
  dtype?: WeightDtype;
  /** Per-tensor dtype, overriding `dtype`. */
  dtypeFor?: (name: string) => WeightDtype | undefined;
  tied?: boolean;
  /** 1: model.safetensors; 2: two shards and model.safetensors.index.json. */
  shards?: 1 | 2;
  /** Merged into config.json; a key set to undefined is removed. */
  config?: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  /** Edits the tensors before they are written (drop one, change a shape, add extras). */
  editTensors?: (tensors: Map<string, TensorToWrite>) => void;
  tokenizer?: boolean;
  tokenizerConfig?: boolean;
}

export interface Fixture {
  dir: string;
  /** Weight files written, absolute, in shard order. */
  weightFiles: string[];
  /** Which weight file each tensor went to. */
  fileOf: Map<string, string>;
  /** The values written for each tensor (exactly representable in every dtype used). */
  values: Map<string, Float32Array>;
}

const created: string[] = [];

/** Hugging Face names and [out, in] shapes for one layer of Qwen2/Llama, by hand. */
export function fixtureShapes(architecture: Architecture, tied: boolean): [string, number[]][] {
  const { hidden, heads, kvHeads, headDim, inter, vocab } = DIMS;
  const l = 'model.layers.0';
  return [
    ['model.embed_tokens.weight', [vocab, hidden]],
    [`${l}.input_layernorm.weight`, [hidden]],
    [`${l}.self_attn.q_proj.weight`, [heads * headDim, hidden]],
    [`${l}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden]],
    [`${l}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden]],
    ...(architecture === 'qwen2'
      ? ([
          [`${l}.self_attn.q_proj.bias`, [heads * headDim]],
          [`${l}.self_attn.k_proj.bias`, [kvHeads * headDim]],
          [`${l}.self_attn.v_proj.bias`, [kvHeads * headDim]],
        ] as [string, number[]][])
      : []),
    [`${l}.self_attn.o_proj.weight`, [hidden, heads * headDim]],
    [`${l}.post_attention_layernorm.weight`, [hidden]],
    [`${l}.mlp.gate_proj.weight`, [inter, hidden]],
    [`${l}.mlp.up_proj.weight`, [inter, hidden]],
    [`${l}.mlp.down_proj.weight`, [hidden, inter]],
    ['model.norm.weight', [hidden]],
    ...(tied ? [] : ([['lm_head.weight', [vocab, hidden]]] as [string, number[]][])),
  ];
}

/** Distinct per tensor; multiples of 1/8 in [-3.75, 3.75], exact in f16 and bf16. */
export function fixtureValues(seed: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (((seed * 37 + i * 11) % 61) - 30) / 8;
  return out;
}

export function configJson(architecture: Architecture, tied: boolean): Record<string, unknown> {
  const { hidden, heads, kvHeads, inter, vocab } = DIMS;
  return {
    architectures: [architecture === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: architecture,
    hidden_size: hidden,
    intermediate_size: inter,
    num_hidden_layers: 1,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocab,
    max_position_embeddings: 128,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    hidden_act: 'silu',
    tie_word_embeddings: tied,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
}

export function makeCheckpoint(options: FixtureOptions = {}): Fixture {
  const { architecture = 'qwen2', dtype = 'F32', tied = false, shards = 1 } = options;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvrx-ckpt-'));
  created.push(dir);

  const config: Record<string, unknown> = { ...configJson(architecture, tied), ...options.config };
  for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key];
  writeJson(path.join(dir, 'config.json'), config);
  if (options.generationConfig) writeJson(path.join(dir, 'generation_config.json'), options.generationConfig);
  if (options.tokenizer !== false) writeJson(path.join(dir, 'tokenizer.json'), {});
  if (options.tokenizerConfig) writeJson(path.join(dir, 'tokenizer_config.json'), {});

  const values = new Map<string, Float32Array>();
  const tensors = new Map<string, TensorToWrite>();
  fixtureShapes(architecture, tied).forEach(([name, shape], seed) => {
    const v = fixtureValues(seed, shape.reduce((a, b) => a * b, 1));
    const d = options.dtypeFor?.(name) ?? dtype;
    values.set(name, v);
    tensors.set(name, { dtype: d, shape, data: encodeValues(v, d) });
  });
  options.editTensors?.(tensors);

  const names = [...tensors.keys()];
  const groups = shards === 1 ? [names] : [names.slice(0, names.length >> 1), names.slice(names.length >> 1)];
  const weightFiles = groups.map((_, i) =>
    path.join(dir, shards === 1 ? 'model.safetensors' : `model-0000${i + 1}-of-00002.safetensors`),
  );
  const fileOf = new Map<string, string>();
  groups.forEach((group, i) => {
    fs.writeFileSync(weightFiles[i], encodeSafetensors(new Map(group.map((n) => [n, tensors.get(n)!]))));
    for (const n of group) fileOf.set(n, weightFiles[i]);
  });
  if (shards === 2) {
    const weightMap = Object.fromEntries([...fileOf].map(([n, f]) => [n, path.basename(f)]));
    writeJson(path.join(dir, 'model.safetensors.index.json'), { metadata: { total_size: 0 }, weight_map: weightMap });
  }
  return { dir, weightFiles, fileOf, values };
}

/** Re-encodes a safetensors file after `edit` changes its parsed header; the data bytes stay. */
export function rewriteHeader(file: string, edit: (header: Record<string, Record<string, unknown>>) => void): void {
  const buf = fs.readFileSync(file);
  const length = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + length).toString('utf8')) as Record<string, Record<string, unknown>>;
  edit(header);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([prefix, json, buf.subarray(8 + length)]));
}

/** The header length a safetensors file declares. */
export function headerLength(file: string): number {
  return Number(fs.readFileSync(file).readBigUInt64LE(0));
}

export function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
}

export function removeCheckpoints(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
