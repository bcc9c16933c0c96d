/**
 * Tiny random models as GGUF files (written once per test process, beside their safetensors twins
 * from models.ts: same seed, same values), and the float64 reference weights of a GGUF file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Architecture } from '../../src/model/config.js';
import type { GgmlType } from '../../src/model/gguf/ggml-types.js';
import { openGguf } from '../../src/model/gguf/open-gguf.js';
import { writeRandomGguf } from '../../src/testkit/gguf-model.js';
import { TINY, type RandomCheckpointOptions } from '../../src/testkit/random-checkpoint.js';
import { hfRopeRows, readDequantized } from '../reference/ggml-dequant.js';
import type { Loaded } from './oracle.js';

/** Rows of 256 values, as the k-quants (Q4_K, Q6_K) need; otherwise the tiny model. */
export const TINY_256: Partial<RandomCheckpointOptions> = { hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2 };

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-gguf-'));
const made = new Map<string, string>();

/** The options tinyModel(architecture, …) uses: the GGUF holds the same values as that folder. */
export function tinyOptions(architecture: Architecture, overrides: Partial<RandomCheckpointOptions> = {}): RandomCheckpointOptions {
  return { ...TINY, architecture, seed: architecture === 'qwen2' ? 11 : 12, tieWordEmbeddings: architecture === 'llama', ...overrides };
}

/**
 * Path of the tiny model of this architecture as a GGUF file with matrices in `type`; an F16 or
 * BF16 file is the one converted from the safetensors folder of that dtype (same values throughout).
 */
export function tinyGguf(architecture: Architecture, type: GgmlType, overrides: Partial<RandomCheckpointOptions> = {}): string {
  const key = JSON.stringify([architecture, type, overrides]);
  let file = made.get(key);
  if (!file) {
    file = path.join(root, `${architecture}-${type}-${made.size}.gguf`);
    writeRandomGguf(file, tinyOptions(architecture, overrides), { type, ...(type === 'F16' || type === 'BF16' ? { convertedFrom: type } : {}) });
    made.set(key, file);
  }
  return file;
}

/**
 * The checkpoint of a GGUF file and its weights dequantized exactly, in Hugging Face's layout: a
 * llama file's q/k rows are put back in rotate_half order, so the reference runs HF's rope.
 */
export function loadGgufForReference(file: string): Loaded {
  const { checkpoint } = openGguf(file);
  const c = checkpoint.config;
  const values = new Map<string, Float64Array>();
  for (const ref of checkpoint.tensors) {
    let v = readDequantized(ref);
    if (c.ropeStyle === 'interleaved') {
      if (ref.name.endsWith('q_proj.weight')) v = hfRopeRows(v, c.numHeads, c.headDim);
      if (ref.name.endsWith('k_proj.weight')) v = hfRopeRows(v, c.numKvHeads, c.headDim);
    }
    values.set(ref.name, v);
  }
  return {
    checkpoint,
    weights: (name) => {
      const v = values.get(name === 'lm_head.weight' && c.tieWordEmbeddings ? 'model.embed_tokens.weight' : name);
      if (!v) throw new Error(`no tensor ${name}`);
      return v;
    },
  };
}
