/**
 * GGUF loading: a Qwen2 GGUF of the tiny model gives the logits of its safetensors twin (f32, f16,
 * bf16); the tokenizer rebuilt from the metadata tokenizes and renders like the folder's;
 * loadModel and `inspect` take a .gguf path; every malformed file is a ModelLoadError naming the
 * file. (Llama files and quantized weights need native support: test/gguf-quant.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { WeightDtype } from '../src/model/config.js';
import { ModelLoadError, type ModelErrorCode } from '../src/model/errors.js';
import { openGguf } from '../src/model/gguf/open-gguf.js';
import { loadModel } from '../src/facade/load-model.js';
import { openModel } from '../src/model/open-model.js';
import { tagModeOf } from '../src/multiverse/tag-scanner.js';
import { GGML_TYPES } from '../src/model/gguf/ggml-types.js';
import { randomGgufContents, type RandomGgufContents } from '../src/testkit/gguf-model.js';
import { encodeGguf, type GgufTyped } from '../src/testkit/gguf-writer.js';
import { tinyGguf, tinyOptions } from './support/gguf-models.js';
import { tinyModel } from './support/models.js';
import { engineFor, expectLogitsClose, range } from './support/oracle.js';
import { cli } from './support/cli.js';

const TOKENS = [5, 100, 200, 300, 486, 17, 99, 250, 492, 1, 480];

async function logits(checkpointDir: string): Promise<Float32Array> {
  const { checkpoint } = await openModel(checkpointDir);
  const engine = engineFor(checkpoint);
  try {
    const seq = engine.createSequence();
    return await engine.step([{ seq, tokens: Int32Array.from(TOKENS), positions: Int32Array.from(range(0, TOKENS.length)), logits: 'all' }]);
  } finally {
    engine.dispose();
  }
}

function rows(flat: Float32Array, vocab: number): Float64Array[] {
  return Array.from({ length: flat.length / vocab }, (_, r) => Float64Array.from(flat.subarray(r * vocab, (r + 1) * vocab)));
}

describe.each<WeightDtype>(['F32', 'F16', 'BF16'])('qwen2 %s GGUF', (dtype) => {
  it('gives the logits of the same model in safetensors', async () => {
    const [fromGguf, fromFolder] = [await logits(tinyGguf('qwen2', dtype)), await logits(tinyModel('qwen2', dtype))];
    expectLogitsClose(fromGguf, rows(fromFolder, 512), 512);
  });
});

describe('GGUF metadata', () => {
  it('gives the config, tokenizer and tags of the safetensors folder', async () => {
    const gguf = openGguf(tinyGguf('qwen2', 'F32'));
    const folder = await openModel(tinyModel('qwen2', 'F32'));
    const { ropeStyle, rmsNormEps, eosTokenIds, ...config } = gguf.checkpoint.config;
    const { rmsNormEps: folderEps, eosTokenIds: _, ...folderConfig } = folder.checkpoint.config;
    expect(config).toEqual(folderConfig);
    expect(ropeStyle).toBe('neox');
    expect(rmsNormEps).toBe(Math.fround(folderEps)); // GGUF stores it as f32
    expect(eosTokenIds).toEqual([folder.tokenizer.tokenId('<|im_end|>')]);
    expect(gguf.checkpoint.tensors.map((t) => [t.name, t.shape, t.dtype])).toEqual(folder.checkpoint.tensors.map((t) => [t.name, t.shape, t.dtype]));

    const [a, b] = [gguf.tokenizer, folder.tokenizer];
    for (const text of ['The river ran fast after the rain.', '<|im_start|>user\n37*4 = 148<|im_end|>', '<Parallel><Goal><Outline>1: x</Outline></Goal><Path>1: café</Path></Parallel>']) {
      expect(a.encode(text)).toEqual(b.encode(text));
      expect(a.decode(b.encode(text))).toBe(text);
      expect(a.decode(b.encode(text), { skipSpecialTokens: true })).toBe(b.decode(b.encode(text), { skipSpecialTokens: true }));
    }
    const [modeA, modeB] = [tagModeOf(a), tagModeOf(b)];
    expect(modeA.kind).toBe('ids');
    expect(modeA).toEqual(modeB);
    expect(a.vocabSize).toBe(b.vocabSize);
    const chat = [{ role: 'user', content: 'hi' }];
    expect(a.applyChatTemplate(chat, { addGenerationPrompt: true })).toBe(b.applyChatTemplate(chat, { addGenerationPrompt: true }));
  });

  it('a llama file: interleaved rope, tied embeddings when output.weight is absent', () => {
    const { checkpoint } = openGguf(tinyGguf('llama', 'F16'));
    expect(checkpoint.config).toMatchObject({ architecture: 'llama', ropeStyle: 'interleaved', tieWordEmbeddings: true, attentionBias: false });
    expect(checkpoint.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
    expect(checkpoint.weightDtype).toBe('F16');
  });
});

describe('loadModel and the CLI take a .gguf path', () => {
  it('greedy generation equals the safetensors model token for token', async () => {
    const generate = async (p: string) => {
      const model = await loadModel(p, { kvSlots: 256, threads: 2 });
      try {
        const done = await lastValueFrom(model.events('The kitchen', { raw: true, temperature: 0, maxTokens: 12, ignoreEos: true }));
        return done.type === 'done' ? done.tokenIds : [];
      } finally {
        await model.dispose();
      }
    };
    const fromGguf = await generate(tinyGguf('qwen2', 'F32'));
    expect(fromGguf).toHaveLength(12);
    expect(fromGguf).toEqual(await generate(tinyModel('qwen2', 'F32')));
  });

  it('inspect --json reports the GGUF file', async () => {
    const file = tinyGguf('qwen2', 'F16');
    const { code, stdout } = cli('inspect', file, '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.dir).toBe(file);
    expect(report.weightDtype).toBe('F16');
    expect(report.multiverseTags['<Parallel>']).toBe(486);
    expect(report.tensors[0]).toEqual({ name: 'model.embed_tokens.weight', shape: [512, 64], dtype: 'F16', file: path.basename(file) });
  });
});

describe('malformed GGUF files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-bad-gguf-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  /** The tiny qwen2 F32 file after `edit` changes its metadata or tensors. */
  function broken(edit: (c: RandomGgufContents & { data: Map<string, Uint8Array> }) => void, bytes?: (b: Buffer) => Buffer): string {
    const contents = randomGgufContents(tinyOptions('qwen2'), { type: 'F32' });
    const data = new Map(contents.tensors.map((t) => [t.name, contents.dataOf(t)]));
    edit({ ...contents, data });
    const file = path.join(dir, `bad-${n++}.gguf`);
    const encoded = encodeGguf(contents.metadata, contents.tensors.map((t) => ({ ...t, data: data.get(t.name)! })));
    fs.writeFileSync(file, bytes ? bytes(encoded) : encoded);
    return file;
  }

  function expectError(file: string, code: ModelErrorCode, message: RegExp, tensor?: string): void {
    let error: unknown;
    try {
      openGguf(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelLoadError);
    const e = error as ModelLoadError;
    expect({ code: e.code, file: e.file, tensor: e.tensor }).toEqual({ code, file, tensor });
    expect(e.message).toContain(file);
    expect(e.message).toMatch(message);
  }

  const setMeta = (c: RandomGgufContents, key: string, value: GgufTyped | undefined) => {
    const i = c.metadata.findIndex(([k]) => k === key);
    if (value === undefined) c.metadata.splice(i, 1);
    else if (i < 0) c.metadata.push([key, value]);
    else c.metadata[i] = [key, value];
  };
  const tensor = (c: RandomGgufContents, name: string) => c.tensors.find((t) => t.name === name)!;

  it('a missing file', () => {
    expectError(path.join(dir, 'none.gguf'), 'FILE_NOT_FOUND', /no such file/);
  });

  it('a bad magic, an unsupported version', () => {
    expectError(broken(() => {}, (b) => Buffer.concat([Buffer.from('GGUX'), b.subarray(4)])), 'BAD_HEADER', /not a GGUF file/);
    expectError(broken(() => {}, (b) => (b.writeUInt32LE(1, 4), b)), 'BAD_HEADER', /version 1 is not supported/);
    expectError(broken(() => {}, (b) => (b.writeUInt32LE(4, 4), b)), 'BAD_HEADER', /version 4/);
    expectError(broken(() => {}, (b) => b.subarray(0, 2)), 'BAD_HEADER', /not a GGUF file/);
  });

  it('a file cut anywhere in the header, or in the data', () => {
    const whole = fs.readFileSync(tinyGguf('qwen2', 'F32'));
    const dataStart = openGguf(tinyGguf('qwen2', 'F32')).checkpoint.tensors[0].offset;
    for (const cut of [6, 12, 20, 40, 300, 5000, Math.floor(dataStart / 2), dataStart - 40]) {
      const file = path.join(dir, `cut-${cut}.gguf`);
      fs.writeFileSync(file, whole.subarray(0, cut));
      expectError(file, 'TRUNCATED_FILE', /the file ends at/);
    }
    const file = path.join(dir, 'cut-data.gguf');
    fs.writeFileSync(file, whole.subarray(0, whole.length - 100));
    expectError(file, 'BAD_OFFSETS', /past the end of the file/, 'output.weight');
  });

  it('lengths and counts far beyond the file', () => {
    // The metadata count sits at bytes 16..23; a string length at 24..31 (the first key's).
    expectError(broken(() => {}, (b) => (b.writeBigUInt64LE(1n << 40n, 24), b)), 'TRUNCATED_FILE', /metadata key 0/);
    expectError(broken(() => {}, (b) => (b.writeBigUInt64LE(1n << 62n, 24), b)), 'BAD_HEADER', /far beyond/);
    expectError(broken((c) => setMeta(c, 'tokenizer.ggml.tokens', { type: 'array', of: 'string', value: [] })), 'TOKENIZER_ERROR', /tokenizer.ggml.token_type must list one number per token/);
  });

  it('an unknown metadata value type', () => {
    // general.architecture is the first key: its type id follows the key.
    const at = 24 + 8 + 'general.architecture'.length;
    expectError(broken(() => {}, (b) => (b.writeUInt32LE(77, at), b)), 'BAD_HEADER', /unknown value type 77/);
  });

  it('tensor offsets outside the file or not aligned', () => {
    const withOffset = (delta: number) =>
      broken(() => {}, (b) => {
        // output.weight's table entry: u64 name length (13), the name, u32 n_dims, two u64 dims, u32 type, u64 offset.
        const name = Buffer.concat([Buffer.of(13, 0, 0, 0, 0, 0, 0, 0), Buffer.from('output.weight')]);
        const at = b.indexOf(name) + name.length + 4 + 16 + 4;
        b.writeBigUInt64LE(b.readBigUInt64LE(at) + BigInt(delta), at);
        return b;
      });
    expectError(withOffset(1 << 20), 'BAD_OFFSETS', /past the end of the file/, 'output.weight');
    expectError(withOffset(4), 'BAD_OFFSETS', /not a multiple of the alignment 32/, 'output.weight');
    expectError(broken((c) => setMeta(c, 'general.alignment', { type: 'u32', value: 24 })), 'BAD_OFFSETS', /not a power of two/);
  });

  it('a tensor type the engine does not load, named with the tensor', () => {
    expectError(broken((c) => (tensor(c, 'blk.1.ffn_up.weight').typeId = 13)), 'UNKNOWN_DTYPE', /type Q5_K; the engine loads F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16/, 'blk.1.ffn_up.weight');
    expectError(broken((c) => (tensor(c, 'blk.0.attn_q.weight').typeId = 99)), 'UNKNOWN_DTYPE', /type 99/, 'blk.0.attn_q.weight');
  });

  it('shapes that disagree with the metadata, rows that are not whole blocks', () => {
    expectError(broken((c) => (tensor(c, 'blk.0.attn_k.weight').dims = [64, 64])), 'WRONG_SHAPE', /shape \[64,64\] \(out, in\), expected \[32,64\]/, 'blk.0.attn_k.weight');
    expectError(broken((c) => setMeta(c, 'qwen2.feed_forward_length', { type: 'u32', value: 96 })), 'WRONG_SHAPE', /expected \[96,64\]/, 'blk.0.ffn_gate.weight');
    expectError(
      broken((c) => {
        // A Q4_K matrix needs rows of 256 values; the tiny model's are 64.
        Object.assign(tensor(c, 'blk.0.ffn_up.weight'), { typeId: GGML_TYPES.Q4_K.id });
      }),
      'WRONG_SHAPE',
      /rows of 64 elements, not a multiple of its block of 256/,
      'blk.0.ffn_up.weight',
    );
  });

  it('a missing tensor', () => {
    expectError(broken((c) => c.tensors.splice(c.tensors.indexOf(tensor(c, 'blk.1.attn_v.bias')), 1)), 'MISSING_TENSOR', /"blk.1.attn_v.bias" is missing/, 'blk.1.attn_v.bias');
  });

  it('metadata: unsupported architecture, missing or mistyped sizes', () => {
    expectError(broken((c) => setMeta(c, 'general.architecture', { type: 'string', value: 'gemma' })), 'UNSUPPORTED_ARCHITECTURE', /"gemma"/);
    expectError(broken((c) => setMeta(c, 'general.architecture', undefined)), 'MISSING_CONFIG_FIELD', /general.architecture is missing/);
    expectError(broken((c) => setMeta(c, 'qwen2.block_count', undefined)), 'MISSING_CONFIG_FIELD', /qwen2.block_count is missing/);
    expectError(broken((c) => setMeta(c, 'qwen2.embedding_length', { type: 'string', value: '64' })), 'INVALID_CONFIG_FIELD', /embedding_length must be a positive integer/);
    expectError(broken((c) => setMeta(c, 'qwen2.attention.head_count_kv', { type: 'u32', value: 3 })), 'INVALID_CONFIG_FIELD', /must divide/);
    expectError(broken((c) => setMeta(c, 'qwen2.rope.scaling.type', { type: 'string', value: 'yarn' })), 'UNSUPPORTED_ARCHITECTURE', /rope scaling/);
  });

  it('a missing or unusable tokenizer', () => {
    const noTokenizer = broken((c) => {
      for (const [key] of c.metadata.filter(([k]) => k.startsWith('tokenizer.'))) setMeta(c, key, undefined);
      setMeta(c, 'qwen2.vocab_size', { type: 'u32', value: 512 });
    });
    expectError(noTokenizer, 'TOKENIZER_ERROR', /has no tokenizer/);
    expectError(broken((c) => setMeta(c, 'tokenizer.ggml.model', { type: 'string', value: 'llama' })), 'TOKENIZER_ERROR', /only byte-level BPE/);
    expectError(broken((c) => setMeta(c, 'tokenizer.ggml.pre', { type: 'string', value: 'mystery' })), 'TOKENIZER_ERROR', /tokenizer.ggml.pre "mystery" is not supported/);
    expectError(broken((c) => setMeta(c, 'tokenizer.ggml.merges', undefined)), 'TOKENIZER_ERROR', /merges must be an array of strings/);
    expectError(broken((c) => setMeta(c, 'tokenizer.ggml.eos_token_id', { type: 'u32', value: 9999 })), 'TOKENIZER_ERROR', /eos_token_id is 9999, not a token id/);
    expectError(broken((c) => setMeta(c, 'tokenizer.chat_template', { type: 'string', value: '{% if %}' })), 'TOKENIZER_ERROR', /chat template .* does not parse/);
  });

  it('(not malformed) tokenizer.ggml.add_bos_token puts the BOS token first', () => {
    const file = broken((c) => setMeta(c, 'tokenizer.ggml.add_bos_token', { type: 'bool', value: true }));
    const { tokenizer } = openGguf(file);
    const bos = tokenizer.tokenId('<|endoftext|>')!;
    expect(tokenizer.encode('The river')).toEqual([bos, ...tokenizer.encode('The river', { addSpecialTokens: false })]);
    expect(tokenizer.encode('The river', { addSpecialTokens: false })[0]).not.toBe(bos);
  });

  it('loadModel and the CLI report the error with its code', async () => {
    const file = broken((c) => setMeta(c, 'general.architecture', { type: 'string', value: 'gemma' }));
    await expect(loadModel(file)).rejects.toMatchObject({ code: 'UNSUPPORTED_ARCHITECTURE', file });
    const { code, stderr } = cli('run', '--model', file, 'hi');
    expect(code).toBe(1);
    expect(stderr).toContain(`UNSUPPORTED_ARCHITECTURE: ${file}`);
  });
});
