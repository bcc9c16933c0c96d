import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { bf16BitsToNumber, f16BitsToNumber } from '../src/model/dtype-decode.js';
import { ModelLoadError, type ModelErrorCode } from '../src/model/errors.js';
import { readSafetensorsHeader, readTensorValues } from '../src/model/safetensors.js';
import { encodeSafetensors, encodeValues } from '../src/testkit/safetensors-writer.js';
import {
  DIMS,
  fixtureShapes,
  headerLength,
  makeCheckpoint,
  removeCheckpoints,
  rewriteHeader,
  writeJson,
} from './support/fixture-checkpoint.js';

afterAll(removeCheckpoints);

/** Asserts a typed load error whose message names the file (and the tensor, when given). */
async function expectLoadError(
  promise: Promise<unknown>,
  code: ModelErrorCode,
  file: string,
  tensor?: string,
): Promise<ModelLoadError> {
  const err = await promise.then(
    () => expect.fail(`expected ${code}, but it loaded`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  const e = err as ModelLoadError;
  expect({ code: e.code, file: e.file }).toEqual({ code, file });
  expect(e.message).toContain(file);
  if (tensor !== undefined) {
    expect(e.tensor).toBe(tensor);
    expect(e.message).toContain(tensor);
  }
  return e;
}

const weights = (dir: string) => path.join(dir, 'model.safetensors');
const configFile = (dir: string) => path.join(dir, 'config.json');

describe('openCheckpoint: valid folders', () => {
  it.each([
    ['qwen2', 'F32'],
    ['llama', 'BF16'],
    ['llama', 'F16'],
  ] as const)('%s %s: tensors, shapes and byte ranges match what was written', async (architecture, dtype) => {
    const fx = makeCheckpoint({ architecture, dtype, tokenizerConfig: true });
    const ckpt = await openCheckpoint(fx.dir);

    expect(ckpt.config).toMatchObject({
      architecture,
      hiddenSize: DIMS.hidden,
      numHeads: DIMS.heads,
      numKvHeads: DIMS.kvHeads,
      headDim: DIMS.headDim,
      attentionBias: architecture === 'qwen2',
      ropeTheta: 1000000,
      bosTokenId: 1,
      eosTokenIds: [2],
    });
    const expected = fixtureShapes(architecture, false);
    expect(ckpt.tensors.map((t) => [t.name, t.shape])).toEqual(expected);
    expect(ckpt.weightDtype).toBe(dtype);
    expect(ckpt.parameterCount).toBe(expected.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0));
    expect(ckpt.tokenizerFile).toBe(path.join(fx.dir, 'tokenizer.json'));
    expect(ckpt.tokenizerConfigFile).toBe(path.join(fx.dir, 'tokenizer_config.json'));

    const bytes = fs.readFileSync(weights(fx.dir));
    for (const ref of ckpt.tensors) {
      expect(ref.file).toBe(weights(fx.dir));
      expect(ref.dtype).toBe(dtype);
      const written = fx.values.get(ref.name)!;
      // Raw bytes at the ref's range are exactly the encoding written, and decode back to the values.
      expect(bytes.subarray(ref.offset, ref.offset + ref.byteLength)).toEqual(Buffer.from(encodeValues(written, dtype)));
      expect(await readTensorValues(ref)).toEqual(Float64Array.from(written));
    }
  });

  it('reads sharded weights through the index, each ref pointing into its shard', async () => {
    const fx = makeCheckpoint({ architecture: 'qwen2', dtype: 'BF16', shards: 2 });
    const ckpt = await openCheckpoint(fx.dir);
    expect(new Set(ckpt.tensors.map((t) => t.file))).toEqual(new Set(fx.weightFiles));
    for (const ref of ckpt.tensors) {
      expect(ref.file).toBe(fx.fileOf.get(ref.name));
      expect(await readTensorValues(ref)).toEqual(Float64Array.from(fx.values.get(ref.name)!));
    }
  });

  it('tied embeddings: no lm_head is needed, and a stored copy is ignored', async () => {
    const fx = makeCheckpoint({ tied: true });
    const ckpt = await openCheckpoint(fx.dir);
    expect(ckpt.config.tieWordEmbeddings).toBe(true);
    expect(ckpt.tensors.map((t) => t.name)).not.toContain('lm_head.weight');
    expect(ckpt.tensors.map((t) => t.name)).toEqual(fixtureShapes('qwen2', true).map(([n]) => n));

    const withCopy = makeCheckpoint({ tied: true, editTensors: (t) => t.set('lm_head.weight', t.get('model.embed_tokens.weight')!) });
    expect((await openCheckpoint(withCopy.dir)).tensors.map((t) => t.name)).not.toContain('lm_head.weight');
  });

  it('generation_config.json overrides the eos ids of config.json', async () => {
    const fx = makeCheckpoint({
      generationConfig: { eos_token_id: [2, 3], temperature: 0.7, top_p: 0.8, top_k: 20, repetition_penalty: 1.05, do_sample: true },
    });
    const ckpt = await openCheckpoint(fx.dir);
    expect(ckpt.config.eosTokenIds).toEqual([2]);
    expect(ckpt.eosTokenIds).toEqual([2, 3]);
    expect(ckpt.generationConfig).toEqual({
      eosTokenIds: [2, 3],
      temperature: 0.7,
      topP: 0.8,
      topK: 20,
      repetitionPenalty: 1.05,
      doSample: true,
    });
    expect((await openCheckpoint(makeCheckpoint().dir)).eosTokenIds).toEqual([2]);
  });

  it('ignores extra tensors, whatever their dtype', async () => {
    const fx = makeCheckpoint({
      editTensors: (t) =>
        t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [2], data: new Uint8Array(8) }),
    });
    // A dtype the engine cannot load, on a tensor it does not need.
    rewriteHeader(weights(fx.dir), (h) => {
      h['model.layers.0.self_attn.rotary_emb.inv_freq'].dtype = 'I64';
      h['model.layers.0.self_attn.rotary_emb.inv_freq'].shape = [1];
    });
    const ckpt = await openCheckpoint(fx.dir);
    expect(ckpt.tensors.map((t) => t.name)).toEqual(fixtureShapes('qwen2', false).map(([n]) => n));
  });

  it('reports the dtype holding most parameters when dtypes are mixed', async () => {
    const fx = makeCheckpoint({ dtype: 'BF16', dtypeFor: (n) => (n.includes('norm') ? 'F32' : undefined) });
    const ckpt = await openCheckpoint(fx.dir);
    expect(ckpt.weightDtype).toBe('BF16');
    expect(ckpt.tensors.find((t) => t.name === 'model.norm.weight')!.dtype).toBe('F32');
  });
});

describe('dtype decoding against hand-known values', () => {
  it('decodes f16 and bf16 bit patterns exactly', () => {
    expect([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00].map(f16BitsToNumber)).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity]);
    expect(f16BitsToNumber(0x7e00)).toBeNaN();
    expect([0x3f80, 0x4049, 0xc000].map(bf16BitsToNumber)).toEqual([1, 3.140625, -2]);
  });

  it('readTensorValues decodes f16 and bf16 tensors from a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvrx-dtype-'));
    try {
      const file = path.join(dir, 'x.safetensors');
      const u16 = (bits: number[]) => new Uint8Array(new Uint16Array(bits).buffer);
      fs.writeFileSync(
        file,
        encodeSafetensors(
          new Map([
            ['h', { dtype: 'F16', shape: [4], data: u16([0x3c00, 0xc000, 0x7bff, 0x0001]) }],
            ['b', { dtype: 'BF16', shape: [2], data: u16([0x3f80, 0x4049]) }],
          ]),
        ),
      );
      const header = await readSafetensorsHeader(file);
      const ref = (name: string) => {
        const t = header.tensors.get(name)!;
        return { name, file, offset: t.offset, byteLength: t.byteLength, dtype: t.dtype as 'F16' | 'BF16' };
      };
      expect(header.metadata).toEqual({ format: 'pt' });
      expect([...(await readTensorValues(ref('h')))]).toEqual([1, -2, 65504, 2 ** -24]);
      expect([...(await readTensorValues(ref('b')))]).toEqual([1, 3.140625]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openCheckpoint: malformed config', () => {
  it('missing required field', async () => {
    const fx = makeCheckpoint({ config: { hidden_size: undefined } });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'MISSING_CONFIG_FIELD', configFile(fx.dir));
    expect(e.message).toContain('hidden_size');
  });

  it.each([
    [{ hidden_size: -8 }, 'hidden_size'],
    [{ hidden_size: '8' }, 'hidden_size'],
    [{ num_attention_heads: 3 }, 'num_attention_heads'],
    [{ num_key_value_heads: 3 }, 'num_key_value_heads'],
    [{ tie_word_embeddings: 'no' }, 'tie_word_embeddings'],
    [{ eos_token_id: [2, -1] }, 'eos_token_id'],
    [{ model_type: 'llama' }, 'model_type'],
  ])('invalid field %j', async (config, field) => {
    const fx = makeCheckpoint({ config });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'INVALID_CONFIG_FIELD', configFile(fx.dir));
    expect(e.message).toContain(field);
  });

  it('unsupported architecture lists the supported ones', async () => {
    const fx = makeCheckpoint({ config: { architectures: ['MistralForCausalLM'], model_type: 'mistral' } });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'UNSUPPORTED_ARCHITECTURE', configFile(fx.dir));
    expect(e.message).toContain('MistralForCausalLM');
    expect(e.message).toContain('Qwen2ForCausalLM');
    expect(e.message).toContain('LlamaForCausalLM');
  });

  it.each([
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'yarn'],
    [{ rope_scaling: { type: 'linear', factor: 2 } }, 'linear'],
    [{ hidden_act: 'gelu' }, 'gelu'],
    [{ use_sliding_window: true }, 'use_sliding_window'],
  ])('unsupported feature %j', async (config, named) => {
    const fx = makeCheckpoint({ config });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'UNSUPPORTED_ARCHITECTURE', configFile(fx.dir));
    expect(e.message).toContain(named);
  });

  it('llama mlp_bias is unsupported; attention_bias adds the q/k/v biases', async () => {
    const biased = makeCheckpoint({ architecture: 'llama', config: { mlp_bias: true } });
    await expectLoadError(openCheckpoint(biased.dir), 'UNSUPPORTED_ARCHITECTURE', configFile(biased.dir));
    // The llama fixture has no bias tensors, so asking for them must fail on the first one.
    const fx = makeCheckpoint({ architecture: 'llama', config: { attention_bias: true } });
    await expectLoadError(openCheckpoint(fx.dir), 'MISSING_TENSOR', weights(fx.dir), 'model.layers.0.self_attn.q_proj.bias');
  });

  it('rope_scaling null or of type "default" is plain RoPE', async () => {
    await expect(openCheckpoint(makeCheckpoint({ config: { rope_scaling: null } }).dir)).resolves.toBeDefined();
    await expect(openCheckpoint(makeCheckpoint({ config: { rope_scaling: { rope_type: 'default' } } }).dir)).resolves.toBeDefined();
  });

  it('config.json that is not JSON', async () => {
    const fx = makeCheckpoint();
    fs.writeFileSync(configFile(fx.dir), '{"hidden_size": 8,');
    await expectLoadError(openCheckpoint(fx.dir), 'INVALID_JSON', configFile(fx.dir));
  });

  it('generation_config.json with a bad field', async () => {
    const fx = makeCheckpoint({ generationConfig: { top_p: 2 } });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'INVALID_CONFIG_FIELD', path.join(fx.dir, 'generation_config.json'));
    expect(e.message).toContain('top_p');
  });
});

describe('openCheckpoint: missing files', () => {
  it('model folder', async () => {
    const dir = path.join(os.tmpdir(), 'mvrx-no-such-model-folder');
    await expectLoadError(openCheckpoint(dir), 'MODEL_DIR_NOT_FOUND', dir);
  });

  it('config.json', async () => {
    const fx = makeCheckpoint();
    fs.rmSync(configFile(fx.dir));
    await expectLoadError(openCheckpoint(fx.dir), 'FILE_NOT_FOUND', configFile(fx.dir));
  });

  it('tokenizer.json', async () => {
    const fx = makeCheckpoint({ tokenizer: false });
    await expectLoadError(openCheckpoint(fx.dir), 'FILE_NOT_FOUND', path.join(fx.dir, 'tokenizer.json'));
  });

  it('weights', async () => {
    const fx = makeCheckpoint();
    fs.rmSync(weights(fx.dir));
    await expectLoadError(openCheckpoint(fx.dir), 'FILE_NOT_FOUND', weights(fx.dir));
  });

  it('a shard', async () => {
    const fx = makeCheckpoint({ shards: 2 });
    fs.rmSync(fx.weightFiles[1]);
    await expectLoadError(openCheckpoint(fx.dir), 'FILE_NOT_FOUND', fx.weightFiles[1]);
  });
});

describe('openCheckpoint: malformed tensors', () => {
  it('missing tensor', async () => {
    const name = 'model.layers.0.mlp.up_proj.weight';
    const fx = makeCheckpoint({ editTensors: (t) => t.delete(name) });
    await expectLoadError(openCheckpoint(fx.dir), 'MISSING_TENSOR', weights(fx.dir), name);
  });

  it('untied checkpoint without lm_head', async () => {
    const fx = makeCheckpoint({ editTensors: (t) => t.delete('lm_head.weight') });
    await expectLoadError(openCheckpoint(fx.dir), 'MISSING_TENSOR', weights(fx.dir), 'lm_head.weight');
  });

  it('wrong shape says expected and got', async () => {
    const name = 'model.layers.0.self_attn.k_proj.weight';
    const fx = makeCheckpoint({
      editTensors: (t) => t.set(name, { dtype: 'F32', shape: [8, 8], data: new Uint8Array(8 * 8 * 4) }),
    });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'WRONG_SHAPE', weights(fx.dir), name);
    expect(e.message).toContain('[4,8]');
    expect(e.message).toContain('[8,8]');
  });

  it.each(['I32', 'Q4_K'])('unknown dtype %s on a needed tensor', async (dtype) => {
    const name = 'model.norm.weight';
    const fx = makeCheckpoint();
    rewriteHeader(weights(fx.dir), (h) => {
      h[name].dtype = dtype;
    });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'UNKNOWN_DTYPE', weights(fx.dir), name);
    expect(e.message).toContain(dtype);
  });

  it('index names a tensor its shard lacks', async () => {
    const fx = makeCheckpoint({ shards: 2 });
    const indexFile = path.join(fx.dir, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> };
    const moved = [...fx.fileOf].find(([, f]) => f === fx.weightFiles[1])![0];
    index.weight_map[moved] = path.basename(fx.weightFiles[0]);
    writeJson(indexFile, index);
    await expectLoadError(openCheckpoint(fx.dir), 'MISSING_TENSOR', fx.weightFiles[0], moved);
  });

  it('index that does not list a needed tensor', async () => {
    const fx = makeCheckpoint({ shards: 2 });
    const indexFile = path.join(fx.dir, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> };
    delete index.weight_map['model.norm.weight'];
    writeJson(indexFile, index);
    await expectLoadError(openCheckpoint(fx.dir), 'MISSING_TENSOR', indexFile, 'model.norm.weight');
  });

  it.each([
    ['not JSON', '{"weight_map": {'],
    ['no weight_map', '{"metadata": {}}'],
    ['a shard outside the folder', '{"weight_map": {"model.embed_tokens.weight": "../elsewhere.safetensors"}}'],
  ])('index that is %s', async (_, text) => {
    const fx = makeCheckpoint({ shards: 2 });
    const indexFile = path.join(fx.dir, 'model.safetensors.index.json');
    fs.writeFileSync(indexFile, text);
    await expectLoadError(openCheckpoint(fx.dir), 'INVALID_JSON', indexFile);
  });
});

describe('openCheckpoint: malformed safetensors files', () => {
  it('file cut in the data region names the tensor the cut falls in', async () => {
    const fx = makeCheckpoint();
    const file = weights(fx.dir);
    // lm_head is written last: cut 4 bytes short of its end.
    fs.truncateSync(file, fs.statSync(file).size - 4);
    await expectLoadError(openCheckpoint(fx.dir), 'TRUNCATED_FILE', file, 'lm_head.weight');
  });

  it('file cut inside the header', async () => {
    const fx = makeCheckpoint();
    const file = weights(fx.dir);
    fs.truncateSync(file, 8 + Math.floor(headerLength(file) / 2));
    await expectLoadError(openCheckpoint(fx.dir), 'TRUNCATED_FILE', file);
  });

  it('file shorter than the length prefix', async () => {
    const fx = makeCheckpoint();
    fs.writeFileSync(weights(fx.dir), Buffer.from([1, 2, 3]));
    await expectLoadError(openCheckpoint(fx.dir), 'TRUNCATED_FILE', weights(fx.dir));
  });

  it('header length that is implausibly large', async () => {
    const fx = makeCheckpoint();
    const buf = fs.readFileSync(weights(fx.dir));
    buf.writeBigUInt64LE(2n ** 40n, 0);
    fs.writeFileSync(weights(fx.dir), buf);
    await expectLoadError(openCheckpoint(fx.dir), 'BAD_HEADER', weights(fx.dir));
  });

  it('header length that is smaller than the header', async () => {
    const fx = makeCheckpoint();
    const buf = fs.readFileSync(weights(fx.dir));
    buf.writeBigUInt64LE(BigInt(headerLength(weights(fx.dir)) - 16), 0);
    fs.writeFileSync(weights(fx.dir), buf);
    await expectLoadError(openCheckpoint(fx.dir), 'BAD_HEADER', weights(fx.dir));
  });

  it.each([
    ['not JSON', (n: number) => 'x'.repeat(n)],
    ['a JSON array', (n: number) => '[]'.padEnd(n)],
  ])('header that is %s', async (_, text) => {
    const fx = makeCheckpoint();
    const buf = fs.readFileSync(weights(fx.dir));
    const n = headerLength(weights(fx.dir));
    buf.write(text(n), 8, n, 'utf8');
    fs.writeFileSync(weights(fx.dir), buf);
    await expectLoadError(openCheckpoint(fx.dir), 'BAD_HEADER', weights(fx.dir));
  });

  it('offsets whose span disagrees with shape × dtype size', async () => {
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const fx = makeCheckpoint();
    rewriteHeader(weights(fx.dir), (h) => {
      const [begin, end] = h[name].data_offsets as number[];
      h[name].data_offsets = [begin, end - 4];
    });
    await expectLoadError(openCheckpoint(fx.dir), 'BAD_OFFSETS', weights(fx.dir), name);
  });

  it('offsets that end before they begin', async () => {
    const name = 'model.norm.weight';
    const fx = makeCheckpoint();
    rewriteHeader(weights(fx.dir), (h) => {
      h[name].data_offsets = [64, 32];
    });
    await expectLoadError(openCheckpoint(fx.dir), 'BAD_OFFSETS', weights(fx.dir), name);
  });

  it('overlapping tensors', async () => {
    const name = 'model.layers.0.input_layernorm.weight';
    const fx = makeCheckpoint();
    // embed_tokens is [32, 8] f32 at [0, 1024); move the layernorm into its middle.
    rewriteHeader(weights(fx.dir), (h) => {
      h[name].data_offsets = [512, 512 + DIMS.hidden * 4];
    });
    const e = await expectLoadError(openCheckpoint(fx.dir), 'BAD_OFFSETS', weights(fx.dir), name);
    expect(e.message).toContain('model.embed_tokens.weight');
  });

  it('offsets past the end of the file', async () => {
    const name = 'model.norm.weight';
    const fx = makeCheckpoint();
    rewriteHeader(weights(fx.dir), (h) => {
      h[name].data_offsets = [1_000_000, 1_000_000 + DIMS.hidden * 4];
    });
    await expectLoadError(openCheckpoint(fx.dir), 'TRUNCATED_FILE', weights(fx.dir), name);
  });
});
