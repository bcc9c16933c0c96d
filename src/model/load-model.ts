/**
 * loadModel(dir): validates the checkpoint folder (typed ModelLoadError on anything malformed),
 * loads the tokenizer, maps the weights natively and starts the step loop.
 */
import os from 'node:os';
import { StepLoop } from '../engine/step-loop.js';
import { loadNative, type KernelSet } from '../native/binding.js';
import { openCheckpoint } from './checkpoint.js';
import { Model } from './model.js';
import { loadTokenizer } from './tokenizer.js';
import type { TagMode } from '../multiverse/tag-scanner.js';
import { readTemplate } from '../multiverse/template.js';

export interface LoadModelOptions {
  /**
   * Tokens the KV pool holds across all live sequences. Default: four full contexts, capped so the
   * pool takes at most `kvMemoryBytes`.
   */
  kvSlots?: number;
  /** Memory cap for the default pool size. Default 2 GiB. */
  kvMemoryBytes?: number;
  /** Positions one sequence may use. Default: the model's max_position_embeddings, capped by the pool. */
  contextLength?: number;
  /** Math threads. Default: all cores. */
  threads?: number;
  /**
   * Kernel set: 'auto' (the widest the CPU runs) or a forced 'portable' | 'avx2' | 'avx512'.
   * Default: MULTIVERSE_KERNELS when set to one of those, else 'auto'.
   */
  kernels?: 'auto' | KernelSet;
  /** How the KV cache stores K and V: 'f16' (default) or 'f32'. */
  kvDtype?: 'f16' | 'f32';
  /** Multiply-adds below which a loop runs on one thread instead of the pool; 0 splits every loop. Default: 1048576 for models under 16 MiB of f32 weights, else 16384. */
  parallelMinWork?: number;
  /** Most tokens in one engine step (decodes plus prefill chunks). Default 512. */
  maxStepTokens?: number;
}

/** @throws ModelLoadError for a malformed folder; Error when the native engine cannot map the weights. */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  const checkpoint = await openCheckpoint(dir);
  const tokenizer = await loadTokenizer(checkpoint.dir);
  const c = checkpoint.config;
  const kvDtype = options.kvDtype ?? 'f16';
  const bytesPerSlot = c.numLayers * c.numKvHeads * c.headDim * 2 * (kvDtype === 'f16' ? 2 : 4);
  const maxByMemory = Math.max(1, Math.floor((options.kvMemoryBytes ?? 2 ** 31) / bytesPerSlot));
  const kvSlots = options.kvSlots ?? Math.min(4 * c.maxPositionEmbeddings, maxByMemory);
  const contextLength = Math.min(options.contextLength ?? c.maxPositionEmbeddings, kvSlots);
  const kernels = options.kernels ?? kernelsFromEnv(process.env.MULTIVERSE_KERNELS);
  const native = loadNative();
  const engine = new native.Engine({
    ...c,
    kvSlots,
    threads: options.threads ?? os.availableParallelism(),
    kernels,
    kvDtype,
    tensors: checkpoint.tensors,
    ...(options.parallelMinWork === undefined ? {} : { parallelMinWork: options.parallelMinWork }),
  });
  const loop = new StepLoop(engine, c.vocabSize, { maxStepTokens: options.maxStepTokens ?? 512 });
  const tags = tokenizer.multiverseTags;
  const tagMode: TagMode = tags ? { kind: 'ids', idOf: tags } : { kind: 'text', textOf: (id) => tokenizer.idToText(id) };
  const info = {
    dir: checkpoint.dir,
    architecture: c.architecture,
    parameterCount: checkpoint.parameterCount,
    weightDtype: checkpoint.weightDtype,
    contextLength,
    kvSlots,
    backend: engine.backend,
  };
  return new Model(checkpoint, tokenizer, engine, loop, info, readTemplate(checkpoint.dir), tagMode);
}

const KERNEL_CHOICES = ['auto', 'portable', 'avx2', 'avx512'] as const;

/** MULTIVERSE_KERNELS=portable|avx2|avx512 forces a kernel set; unset or anything else is 'auto'. */
function kernelsFromEnv(value: string | undefined): 'auto' | KernelSet {
  return KERNEL_CHOICES.find((k) => k === value) ?? 'auto';
}
