/**
 * Glue between the native engine and the dense float64 reference: reference weights read from the
 * checkpoint files (the same rounded values the engine widens), an engine on a checkpoint, and the
 * tolerance check of the engine invariant.
 */
import { expect } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../../src/model/checkpoint.js';
import { readTensorValues } from '../../src/model/safetensors.js';
import { loadNative, type KernelSet, type NativeEngine } from '../../src/native/binding.js';

export interface Loaded {
  checkpoint: Checkpoint;
  weights: (name: string) => Float64Array;
}

export async function loadForReference(dir: string): Promise<Loaded> {
  const checkpoint = await openCheckpoint(dir);
  const values = new Map<string, Float64Array>();
  for (const ref of checkpoint.tensors) values.set(ref.name, await readTensorValues(ref));
  return {
    checkpoint,
    weights: (name) => {
      const v = values.get(name === 'lm_head.weight' && checkpoint.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : name);
      if (!v) throw new Error(`no tensor ${name}`);
      return v;
    },
  };
}

/**
 * An engine on the checkpoint. The KV cache defaults to f32 here (not the engine's f16) because the
 * tests that use it check the engine invariant at 1e-4 of the logits' scale, while rounding K and V
 * to f16 moves them by up to 2^-11 relative; the f16 cache has its own tests.
 */
export function engineFor(
  checkpoint: Checkpoint,
  kvSlots = 512,
  kernels: 'auto' | KernelSet = 'auto',
  parallelMinWork?: number,
  kvDtype: 'f16' | 'f32' = 'f32',
): NativeEngine {
  const c = checkpoint.config;
  return new (loadNative().Engine)({ ...c, kvSlots, threads: 2, kernels, kvDtype, tensors: checkpoint.tensors, ...(parallelMinWork === undefined ? {} : { parallelMinWork }) });
}

/**
 * Asserts native rows (vocab floats each, concatenated) equal the reference rows within
 * `tolerance` (default 1e-4) × the reference logits' scale (their largest magnitude). Returns the
 * worst difference over the scale.
 */
export function expectLogitsClose(native: Float32Array, reference: Float64Array[], vocab: number, tolerance = 1e-4): number {
  expect(native.length).toBe(reference.length * vocab);
  let scale = 0;
  let worst = 0;
  reference.forEach((row, r) => {
    for (let i = 0; i < vocab; i++) {
      scale = Math.max(scale, Math.abs(row[i]));
      worst = Math.max(worst, Math.abs(row[i] - native[r * vocab + i]));
    }
  });
  expect(scale).toBeGreaterThan(0);
  expect(worst).toBeLessThanOrEqual(tolerance * scale);
  return worst / scale;
}

export const causal = (q: number, k: number): boolean => k <= q;

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
