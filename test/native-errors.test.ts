/**
 * The native boundary never crashes: a spec that lies about tensors (as a checkpoint changed under
 * the loader would), or bad arguments, come back as JS errors that name the problem. And loadModel
 * surfaces a damaged checkpoint as a typed ModelLoadError.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, ModelLoadError } from '../src/index.js';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { loadNative, type NativeEngineSpec } from '../src/native/binding.js';
import { tinyModel } from './support/models.js';

async function spec(): Promise<NativeEngineSpec> {
  const ck = await openCheckpoint(tinyModel('llama', 'BF16'));
  return { ...ck.config, kvSlots: 16, threads: 1, kernels: 'auto', tensors: ck.tensors };
}

describe('native engine construction', () => {
  const Engine = loadNative().Engine;

  it('names a tensor that runs past the end of its file', async () => {
    const s = await spec();
    const t = s.tensors[3];
    t.offset = fs.statSync(t.file).size - 2;
    expect(() => new Engine(s)).toThrow(new RegExp(`tensor ${t.name.replace(/\./g, '\\.')} extends past the end`));
  });

  it('names a missing tensor and a wrong shape', async () => {
    const s = await spec();
    const dropped = s.tensors.splice(5, 1)[0];
    expect(() => new Engine(s)).toThrow(`missing tensor ${dropped.name}`);
    const t = (await spec()).tensors;
    t[0].shape = [t[0].shape[0] + 1, t[0].shape[1]];
    expect(() => new Engine({ ...s, tensors: t })).toThrow(/has shape \[\d+, \d+\], expected/);
  });

  it('rejects bad spec values and bad calls with messages, not crashes', async () => {
    const s = await spec();
    expect(() => new Engine({ ...s, kernels: 'fast' as 'auto' })).toThrow(/kernels must be/);
    expect(() => new Engine({ ...s, kvDtype: 'f8' as 'f16' })).toThrow(/kvDtype must be 'f16' or 'f32'/);
    expect(() => new Engine({ ...s, tensors: [{ ...s.tensors[0], dtype: 'Q5_K' as 'F32' }, ...s.tensors.slice(1)] })).toThrow(/unsupported dtype Q5_K/);
    expect(() => new Engine({ ...s, kvSlots: 0 })).toThrow(/kvSlots/);
    expect(() => new Engine({ ...s, parallelMinWork: -1 })).toThrow(/parallelMinWork/);
    expect(() => new Engine({ ...s, parallelMinWork: 0.5 })).toThrow(/parallelMinWork/);
    expect(() => new Engine({ ...s, numKvHeads: 3 })).toThrow(/multiple of numKvHeads/);
    expect(() => new Engine({ ...s, tensors: [{ ...s.tensors[0], file: '/nonexistent.safetensors' }, ...s.tensors.slice(1)] })).toThrow(/cannot open \/nonexistent/);
    const engine = new Engine(s);
    expect(() => engine.fork(0, 2)).toThrow(/unknown sequence/);
    expect(() => (engine.fork as (a: unknown, b: unknown) => number[])('x', 2)).toThrow(/sequence id/);
    await expect(engine.step('nope' as never)).rejects.toThrow(/items must be an array/);
    await expect(engine.step([{ seq: engine.createSequence(), tokens: [1] as never, positions: Int32Array.of(0), logits: 'last' }])).rejects.toThrow(/Int32Array/);
    engine.dispose();
    expect(() => engine.createSequence()).toThrow(/disposed/);
  });
});

describe('loadModel on a damaged checkpoint', () => {
  it('fails with TRUNCATED_FILE naming the file and tensor', async () => {
    const src = tinyModel('qwen2', 'F16');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-damaged-'));
    for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const weights = path.join(dir, 'model.safetensors');
    fs.truncateSync(weights, fs.statSync(weights).size - 100);
    const err = await loadModel(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).code).toBe('TRUNCATED_FILE');
    expect((err as ModelLoadError).file).toBe(weights);
    expect((err as ModelLoadError).message).toContain((err as ModelLoadError).tensor);
  });
});
