import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preTokenize, trainBpe } from '../src/testkit/bpe-trainer.js';
import { Prng } from '../src/testkit/prng.js';
import { TINY, writeRandomCheckpoint, type RandomCheckpointOptions } from '../src/testkit/random-checkpoint.js';
import { writeSafetensorsStreaming } from '../src/testkit/safetensors-stream-writer.js';
import { encodeSafetensors, encodeValues, type TensorToWrite } from '../src/testkit/safetensors-writer.js';
import { buildTokenizerFiles, CORPUS } from '../src/testkit/tokenizer-files.js';

let root: string;
let count = 0;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-testkit-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function checkpoint(overrides: Partial<RandomCheckpointOptions> = {}): string {
  const dir = path.join(root, `ckpt-${count++}`);
  writeRandomCheckpoint(dir, { ...TINY, ...overrides });
  return dir;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses a safetensors file by hand: 8-byte LE header length, JSON header, data. */
function readSafetensors(file: string) {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const { __metadata__: metadata, ...tensors } = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const data = bytes.subarray(8 + headerLength);
  return {
    headerLength,
    metadata,
    tensors: tensors as Record<string, HeaderEntry>,
    data,
    tensorData(name: string): Buffer {
      const [start, end] = (tensors as Record<string, HeaderEntry>)[name].data_offsets;
      return data.subarray(start, end);
    },
  };
}

function f32s(b: Buffer): Float32Array {
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function u16s(b: Buffer): Uint16Array {
  return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
function bf16Value(b: number): number {
  return new Float32Array(new Uint32Array([b << 16]).buffer)[0];
}
function stats(values: Float32Array) {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return { mean, std, maxAbs: values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) };
}

/** Expected [name, shape] list for TINY (hidden 64, 4 heads of 16, 2 KV heads, inter 128, vocab 512). */
function tinyTensors(qwen2: boolean, tied: boolean): [string, number[]][] {
  const out: [string, number[]][] = [['model.embed_tokens.weight', [512, 64]]];
  for (const i of [0, 1]) {
    const p = `model.layers.${i}`;
    out.push(
      [`${p}.input_layernorm.weight`, [64]],
      [`${p}.self_attn.q_proj.weight`, [64, 64]],
      [`${p}.self_attn.k_proj.weight`, [32, 64]],
      [`${p}.self_attn.v_proj.weight`, [32, 64]],
      [`${p}.self_attn.o_proj.weight`, [64, 64]],
      [`${p}.post_attention_layernorm.weight`, [64]],
      [`${p}.mlp.gate_proj.weight`, [128, 64]],
      [`${p}.mlp.up_proj.weight`, [128, 64]],
      [`${p}.mlp.down_proj.weight`, [64, 128]],
    );
    if (qwen2) out.push([`${p}.self_attn.q_proj.bias`, [64]], [`${p}.self_attn.k_proj.bias`, [32]], [`${p}.self_attn.v_proj.bias`, [32]]);
  }
  out.push(['model.norm.weight', [64]]);
  if (!tied) out.push(['lm_head.weight', [512, 64]]);
  return out.sort(([a], [b]) => a.localeCompare(b));
}

describe('Prng', () => {
  it('is deterministic per seed and roughly standard normal', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const c = new Prng(8);
    const seq = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(seq);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(seq);
    const values = Float32Array.from({ length: 100_000 }, () => a.normalish());
    const { mean, std, maxAbs } = stats(values);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.02);
    expect(maxAbs).toBeLessThanOrEqual(Math.sqrt(3) * 2);
  });
});

describe('BPE trainer', () => {
  it('splits text exactly as the tokenizer library does with the written tokenizer.json', () => {
    const files = buildTokenizerFiles(TINY.bpeVocabSize);
    const hf = new HfTokenizer(files.tokenizerJson, files.tokenizerConfig);
    for (const text of [CORPUS, "I'LL go—they've said so!\r\n\n  x  \t12ab 3.5e-2 你好 🦊\n"]) {
      expect(preTokenize(text)).toEqual(hf.pre_tokenizer!(text));
    }
  });

  it('is deterministic, reaches the size asked for, and says when the corpus is too small', () => {
    const a = trainBpe(CORPUS, 300);
    expect(a.vocab.size).toBe(300);
    expect(trainBpe(CORPUS, 300)).toEqual(a);
    expect(a.vocab.get('Ġ')).toBe(0x20); // byte ids are byte values; space is shown as Ġ
    expect(a.vocab.get('Ċ')).toBe(0x0a);
    expect(a.vocab.get('a')).toBe(0x61);
    expect(trainBpe('', 256).merges).toEqual([]);
    // "abab" can only learn "ab", then "abab".
    expect(trainBpe('abab', 258).merges).toEqual([['a', 'b'], ['ab', 'ab']]);
    expect(() => trainBpe('abab', 259)).toThrow(/at most 258/);
  });
});

describe('writeRandomCheckpoint', () => {
  it('writes the HF files and a Qwen2 config as transformers does', () => {
    const dir = checkpoint();
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 512,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      max_position_embeddings: 2048,
      tie_word_embeddings: false,
      hidden_act: 'silu',
      torch_dtype: 'float32',
      bos_token_id: 481,
      eos_token_id: 483,
    });
    expect(Object.keys(config)).toEqual(Object.keys(config).sort()); // transformers sorts keys
    const generation = JSON.parse(fs.readFileSync(path.join(dir, 'generation_config.json'), 'utf8'));
    expect(generation.eos_token_id).toEqual([483, 481]);
  });

  it('writes every tensor with its HF name, shape and dtype, and sane values', () => {
    const st = readSafetensors(path.join(checkpoint(), 'model.safetensors'));
    expect((8 + st.headerLength) % 8).toBe(0);
    expect(st.metadata).toEqual({ format: 'pt' });
    const names = Object.keys(st.tensors).sort((a, b) => a.localeCompare(b));
    expect(names.map((n) => [n, st.tensors[n].shape])).toEqual(tinyTensors(true, false));
    // Contiguous data, in header order, filling the file exactly.
    let offset = 0;
    for (const entry of Object.values(st.tensors)) {
      expect(entry.dtype).toBe('F32');
      expect(entry.data_offsets).toEqual([offset, offset + 4 * entry.shape.reduce((a, b) => a * b, 1)]);
      offset = entry.data_offsets[1];
    }
    expect(offset).toBe(st.data.byteLength);

    const embed = stats(f32s(st.tensorData('model.embed_tokens.weight')));
    expect(Math.abs(embed.std - 0.02)).toBeLessThan(0.002);
    expect(embed.maxAbs).toBeLessThan(0.07);
    const norm = f32s(st.tensorData('model.layers.0.input_layernorm.weight'));
    expect(Math.abs(stats(norm).mean - 1)).toBeLessThan(0.05);
    expect(stats(norm).std).toBeGreaterThan(0.05);
    const bias = f32s(st.tensorData('model.layers.1.self_attn.k_proj.bias'));
    expect(bias.every((v) => v !== 0)).toBe(true);
    expect(stats(bias).std).toBeGreaterThan(0.01);
  });

  it('writes a Llama checkpoint without biases, and ties embeddings on request', () => {
    const dir = checkpoint({ architecture: 'llama', tieWordEmbeddings: true });
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      attention_bias: false,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
    });
    const st = readSafetensors(path.join(dir, 'model.safetensors'));
    const names = Object.keys(st.tensors).sort((a, b) => a.localeCompare(b));
    expect(names.map((n) => [n, st.tensors[n].shape])).toEqual(tinyTensors(false, true));
  });

  it('gives identical bytes for the same seed and different weights for another', () => {
    const a = checkpoint({ seed: 5 });
    const b = checkpoint({ seed: 5 });
    const c = checkpoint({ seed: 6 });
    for (const f of fs.readdirSync(a)) expect(fs.readFileSync(path.join(b, f)).equals(fs.readFileSync(path.join(a, f))), f).toBe(true);
    const weights = (d: string) => fs.readFileSync(path.join(d, 'model.safetensors'));
    expect(weights(c).equals(weights(a))).toBe(false);
    expect(weights(c).length).toBe(weights(a).length);
    expect(fs.readFileSync(path.join(c, 'tokenizer.json')).equals(fs.readFileSync(path.join(a, 'tokenizer.json')))).toBe(true);
  });

  it('writes F16 and BF16 weights as the F32 values rounded to nearest', () => {
    // Hand-known roundings: 1.0 and 0.1.
    expect(Array.from(new Uint16Array(encodeValues(Float32Array.of(1, 0.1), 'F16').buffer))).toEqual([0x3c00, 0x2e66]);
    expect(Array.from(new Uint16Array(encodeValues(Float32Array.of(1, 0.1), 'BF16').buffer))).toEqual([0x3f80, 0x3dcd]);

    const f32 = readSafetensors(path.join(checkpoint({ seed: 9 }), 'model.safetensors'));
    const half = [
      { dtype: 'F16', value: f16Value },
      { dtype: 'BF16', value: bf16Value },
    ] as const;
    for (const { dtype, value } of half) {
      const st = readSafetensors(path.join(checkpoint({ seed: 9, dtype }), 'model.safetensors'));
      for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.post_attention_layernorm.weight', 'model.layers.0.self_attn.v_proj.bias']) {
        expect(st.tensors[name].dtype).toBe(dtype);
        const exact = f32s(f32.tensorData(name));
        const bits = u16s(st.tensorData(name));
        expect(bits.length).toBe(exact.length);
        const notNearest = exact.filter((x, i) => {
          // Nearest: no neighbouring 16-bit value (one step of magnitude either way) is closer.
          const err = Math.abs(value(bits[i]) - x);
          const up = Math.abs(value(bits[i] + 1) - x);
          const down = (bits[i] & 0x7fff) > 0 ? Math.abs(value(bits[i] - 1) - x) : Infinity;
          return err > up || err > down || err > Math.abs(x) * (dtype === 'F16' ? 2 ** -11 : 2 ** -8) + 2 ** -25;
        });
        expect(notNearest, `${dtype} ${name}`).toEqual(new Float32Array(0));
      }
    }
  });

  it('shards into model-0000i-of-0000N files with a correct index and the same tensors', () => {
    const whole = readSafetensors(path.join(checkpoint({ seed: 3 }), 'model.safetensors'));
    const dir = checkpoint({ seed: 3, shards: 3 });
    const shardFiles = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index.weight_map).sort()).toEqual(Object.keys(whole.tensors).sort());
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shardFiles));

    let totalSize = 0;
    for (const file of shardFiles) {
      const st = readSafetensors(path.join(dir, file));
      totalSize += st.data.byteLength;
      for (const [name, entry] of Object.entries(st.tensors)) {
        expect(index.weight_map[name]).toBe(file);
        expect(entry.shape).toEqual(whole.tensors[name].shape);
        expect(st.tensorData(name).equals(whole.tensorData(name)), name).toBe(true);
      }
    }
    expect(index.metadata.total_size).toBe(totalSize);
    expect(totalSize).toBe(whole.data.byteLength);
  });

  it('rejects a vocab smaller than the tokenizer and impossible shard counts', () => {
    expect(() => checkpoint({ vocabSize: 400 })).toThrow(/smaller than the tokenizer \(496 ids\)/);
    expect(() => checkpoint({ shards: 1000 })).toThrow(/shards/);
    expect(() => checkpoint({ numHeads: 3 })).toThrow(/multiple of numHeads/);
  });
});

describe('writeSafetensorsStreaming', () => {
  it('writes the same bytes as encodeSafetensors', () => {
    const tensors = new Map<string, TensorToWrite>([
      ['b', { dtype: 'F32', shape: [2, 3], data: encodeValues(Float32Array.of(1, 2, 3, 4, 5, 6), 'F32') }],
      ['a.weight', { dtype: 'BF16', shape: [3], data: encodeValues(Float32Array.of(0.5, -1, 7), 'BF16') }],
    ]);
    const file = path.join(root, 'stream.safetensors');
    const specs = Array.from(tensors, ([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
    // Deliver each tensor in one-byte chunks to exercise the chunking.
    writeSafetensorsStreaming(file, specs, (spec) => Array.from(tensors.get(spec.name)!.data, (b) => Uint8Array.of(b)));
    expect(fs.readFileSync(file).equals(encodeSafetensors(tensors))).toBe(true);
    expect(() => writeSafetensorsStreaming(file, specs, () => [Uint8Array.of(1)])).toThrow(/tensor b got 1 bytes/);
  });
});
