/**
 * Hostile or broken model folders: config sizes the weights do not back (which used to hang the
 * loader building a tensor list from num_hidden_layers: 1e9), and symlink loops, FIFOs and folders
 * where files belong (which used to give a raw ELOOP, or block forever on the FIFO's read).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { ModelLoadError, type ModelErrorCode } from '../src/model/errors.js';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { readTemplate } from '../src/multiverse/template.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';
import { DIMS, makeCheckpoint, removeCheckpoints } from './support/fixture-checkpoint.js';

afterAll(removeCheckpoints);

async function loadError(promise: Promise<unknown>): Promise<ModelLoadError> {
  const err = await promise.then(
    () => expect.fail('expected a ModelLoadError, but it loaded'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  return err as ModelLoadError;
}

async function expectCode(promise: Promise<unknown>, code: ModelErrorCode, file: string): Promise<ModelLoadError> {
  const e = await loadError(promise);
  expect({ code: e.code, file: e.file }).toEqual({ code, file });
  expect(e.message).toContain(file);
  return e;
}

describe('config.json sizes are checked against the tensors present', () => {
  it.each([1e9, 2 ** 31, 2])('num_hidden_layers %d with one layer of weights names the field and the count', async (layers) => {
    for (const shards of [1, 2] as const) {
      const fx = makeCheckpoint({ shards, config: { num_hidden_layers: layers } });
      const configFile = path.join(fx.dir, 'config.json');
      const e = await expectCode(openCheckpoint(fx.dir), 'INVALID_CONFIG_FIELD', configFile);
      expect(e.message).toContain('num_hidden_layers');
      expect(e.message).toContain('holds weights for 1 layer(s)');
    }
  });

  it.each([
    [{ vocab_size: 1e9 }, 'vocab_size', `has ${DIMS.vocab} rows`],
    [{ vocab_size: DIMS.vocab + 1 }, 'vocab_size', `has ${DIMS.vocab} rows`],
    // head_dim stays 4 so only the embedding width disagrees.
    [{ hidden_size: 2 ** 40, head_dim: DIMS.headDim }, 'hidden_size', `has ${DIMS.hidden} columns`],
  ])('%j is refused naming the field and the embedding table', async (config, field, says) => {
    const fx = makeCheckpoint({ config });
    const e = await expectCode(openCheckpoint(fx.dir), 'INVALID_CONFIG_FIELD', path.join(fx.dir, 'config.json'));
    expect(e.message).toContain(`"${field}"`);
    expect(e.message).toContain('model.embed_tokens.weight');
    expect(e.message).toContain(says);
  });

  it.each([
    [{ num_hidden_layers: 1.5 }, 'num_hidden_layers'],
    [{ num_hidden_layers: -1 }, 'num_hidden_layers'],
    [{ num_hidden_layers: 0 }, 'num_hidden_layers'],
    [{ num_hidden_layers: 1e300 }, 'num_hidden_layers'],
    [{ intermediate_size: 'big' }, 'intermediate_size'],
    [{ vocab_size: Number.MAX_SAFE_INTEGER + 2 }, 'vocab_size'],
    [{ head_dim: 3 }, 'head_dim'],
  ])('%j is not a usable size', async (config, field) => {
    const fx = makeCheckpoint({ config });
    const e = await expectCode(openCheckpoint(fx.dir), 'INVALID_CONFIG_FIELD', path.join(fx.dir, 'config.json'));
    expect(e.message).toContain(field);
  });

  it('intermediate_size that disagrees with the weights names the layer-0 tensor', async () => {
    const fx = makeCheckpoint({ config: { intermediate_size: 1e12 } });
    const e = await expectCode(openCheckpoint(fx.dir), 'WRONG_SHAPE', fx.weightFiles[0]);
    expect(e.tensor).toBe('model.layers.0.mlp.gate_proj.weight');
  });

  it('a checkpoint holding more layers than the config uses still loads (extra layers are ignored)', async () => {
    // The fixture has one layer; add a second layer's norm and keep num_hidden_layers 1.
    const fx = makeCheckpoint({
      editTensors: (t) =>
        t.set('model.layers.1.input_layernorm.weight', { dtype: 'F32', shape: [DIMS.hidden], data: new Uint8Array(DIMS.hidden * 4) }),
    });
    await expect(openCheckpoint(fx.dir)).resolves.toMatchObject({ config: { numLayers: 1 } });
  });
});

/** Replaces `file` with what `make` puts there. */
function replace(file: string, make: (file: string) => void): void {
  fs.rmSync(file, { force: true });
  make(file);
}
const loop = (file: string) => fs.symlinkSync(path.basename(file), file);
const fifo = (file: string) => execFileSync('mkfifo', [file]);
const folder = (file: string) => fs.mkdirSync(file);

describe('what is at a model file path', () => {
  const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json', 'tokenizer_config.json'];

  it.each(files)('%s as a symlink loop is SYMLINK_LOOP', async (name) => {
    const fx = makeCheckpoint();
    const file = path.join(fx.dir, name);
    replace(file, loop);
    await expectCode(openCheckpoint(fx.dir), 'SYMLINK_LOOP', file);
  });

  it.each(files)('%s as a FIFO is NOT_A_FILE, without waiting for a writer', async (name) => {
    const fx = makeCheckpoint();
    const file = path.join(fx.dir, name);
    replace(file, fifo);
    const e = await expectCode(openCheckpoint(fx.dir), 'NOT_A_FILE', file);
    expect(e.message).toContain('FIFO');
  });

  it.each(files)('%s as a folder is NOT_A_FILE', async (name) => {
    const fx = makeCheckpoint();
    const file = path.join(fx.dir, name);
    replace(file, folder);
    const e = await expectCode(openCheckpoint(fx.dir), 'NOT_A_FILE', file);
    expect(e.message).toContain('folder');
  });

  it('a shard named by the index that is a FIFO', async () => {
    const fx = makeCheckpoint({ shards: 2 });
    replace(fx.weightFiles[1], fifo);
    await expectCode(openCheckpoint(fx.dir), 'NOT_A_FILE', fx.weightFiles[1]);
  });

  it('the model folder itself as a symlink loop', async () => {
    const fx = makeCheckpoint();
    const dir = path.join(fx.dir, 'looped');
    loop(dir);
    await expectCode(openCheckpoint(dir), 'SYMLINK_LOOP', dir);
  });

  it('chat_template.jinja and multiverse.json as FIFOs are NOT_A_FILE', async () => {
    const fx = makeCheckpoint();
    // A real tokenizer, and a config without a template so the loader looks for the .jinja file.
    writeTokenizerFiles(fx.dir, { ...buildTokenizerFiles(TINY.bpeVocabSize), tokenizerConfig: {} });
    fifo(path.join(fx.dir, 'chat_template.jinja'));
    fifo(path.join(fx.dir, 'multiverse.json'));
    await expectCode(loadTokenizer(fx.dir), 'NOT_A_FILE', path.join(fx.dir, 'chat_template.jinja'));
    await expectCode(readTemplate(fx.dir), 'NOT_A_FILE', path.join(fx.dir, 'multiverse.json'));
  });
});
