/**
 * GGUF tensor names mapped to the Hugging Face names the engine's layout uses, and each expected
 * tensor checked against the file: present, of a type the engine loads, of the shape the metadata
 * implies, and wholly inside the file. Shapes are given back in Hugging Face order ([out, in]):
 * GGUF lists dimensions fastest-first. The data stays in the file: the result is byte ranges.
 */
import type { ModelConfig } from '../config.js';
import { ModelLoadError } from '../errors.js';
import type { NativeTensorRef } from '../../native/binding.js';
import { expectedTensors } from '../tensor-layout.js';
import { GGML_TYPES, ggmlTensorBytes, ggmlTypeName, ggmlTypeOf } from './ggml-types.js';
import type { GgufHeader, GgufTensorInfo } from './gguf-header.js';

const LAYER_NAMES: Readonly<Record<string, string>> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

const GLOBAL_NAMES: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** The GGUF name of a Hugging Face tensor name of the layout. */
export function ggufTensorName(hfName: string): string {
  const global = GLOBAL_NAMES[hfName];
  if (global) return global;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const local = m && LAYER_NAMES[m[2]];
  if (!local) throw new Error(`no GGUF name for ${hfName}`);
  return `blk.${m[1]}.${local}`;
}

/**
 * The byte-range table of every tensor the engine needs, in layout order, with HF names and shapes.
 * @throws ModelLoadError MISSING_TENSOR; UNKNOWN_DTYPE for a type the engine does not load;
 *   WRONG_SHAPE for a shape the metadata does not imply or a row that is not whole blocks;
 *   BAD_OFFSETS for data outside the file.
 */
export function ggufTensorRefs(header: GgufHeader, config: ModelConfig): NativeTensorRef[] {
  const { file } = header;
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  return expectedTensors(config).map(({ name: hfName, shape }) => {
    const name = ggufTensorName(hfName);
    const info = byName.get(name);
    if (!info) throw new ModelLoadError('MISSING_TENSOR', `${file}: tensor "${name}" is missing`, file, name);
    return refFor(header, info, hfName, shape);
  });
}

/** Whether the file has a tensor of this HF name (output.weight, the llama biases). */
export function hasGgufTensor(header: GgufHeader, hfName: string): boolean {
  const name = ggufTensorName(hfName);
  return header.tensors.some((t) => t.name === name);
}

function refFor(header: GgufHeader, info: GgufTensorInfo, hfName: string, shape: number[]): NativeTensorRef {
  const { file } = header;
  const { name } = info;
  const dtype = ggmlTypeOf(info.typeId);
  if (!dtype) {
    throw new ModelLoadError('UNKNOWN_DTYPE', `${file}: tensor "${name}" has type ${ggmlTypeName(info.typeId)}; the engine loads ${Object.keys(GGML_TYPES).join(', ')}`, file, name);
  }
  const hfShape = [...info.dims].reverse();
  if (hfShape.length !== shape.length || hfShape.some((d, i) => d !== shape[i])) {
    throw new ModelLoadError('WRONG_SHAPE', `${file}: tensor "${name}" has shape [${hfShape}] (out, in), expected [${shape}] from the metadata`, file, name);
  }
  const cols = shape[shape.length - 1];
  const rows = shape.length === 2 ? shape[0] : 1;
  const { blockSize } = GGML_TYPES[dtype];
  if (cols % blockSize !== 0) {
    throw new ModelLoadError('WRONG_SHAPE', `${file}: tensor "${name}" is ${dtype} with rows of ${cols} elements, not a multiple of its block of ${blockSize}`, file, name);
  }
  const byteLength = ggmlTensorBytes(dtype, rows, cols);
  if (info.offset + byteLength > header.size) {
    throw new ModelLoadError('BAD_OFFSETS', `${file}: tensor "${name}" spans bytes ${info.offset}..${info.offset + byteLength}, past the end of the file (${header.size} bytes)`, file, name);
  }
  return { name: hfName, file, offset: info.offset, byteLength, dtype, shape };
}
