/**
 * loadModel(path): validates the checkpoint folder or GGUF file (typed ModelLoadError on anything
 * malformed), loads the tokenizer, maps the weights natively and starts the step loop.
 */
import os from 'node:os';
import { StepLoop } from '../engine/step-loop.js';
import { loadNative } from '../native/binding.js';
import { openModel } from './open-model.js';
import { Model } from './model.js';
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
  /** 'portable' forces the plain C++ kernels. Default: 'auto', or 'portable' when MULTIVERSE_KERNELS=portable. */
  kernels?: 'auto' | 'portable';
  /** Multiply-adds below which a loop runs on one thread instead of the pool; 0 splits every loop. Default: 1048576 for models under 16 MiB of f32 weights, else 16384. */
  parallelMinWork?: number;
  /** Most tokens in one engine step (decodes plus prefill chunks). Default 512. */
  maxStepTokens?: number;
}

/**
 * `dir` is a Hugging Face checkpoint folder or a `.gguf` file.
 * @throws ModelLoadError for a malformed folder or file; Error when the native engine cannot map the weights.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  const { checkpoint, tokenizer } = await openModel(dir);
  const c = checkpoint.config;
  const bytesPerSlot = c.numLayers * c.numKvHeads * c.headDim * 2 * 4;
  const maxByMemory = Math.max(1, Math.floor((options.kvMemoryBytes ?? 2 ** 31) / bytesPerSlot));
  const kvSlots = options.kvSlots ?? Math.min(4 * c.maxPositionEmbeddings, maxByMemory);
  const contextLength = Math.min(options.contextLength ?? c.maxPositionEmbeddings, kvSlots);
  const kernels = options.kernels ?? (process.env.MULTIVERSE_KERNELS === 'portable' ? 'portable' : 'auto');
  const native = loadNative();
  const engine = new native.Engine({
    ...c,
    kvSlots,
    threads: options.threads ?? os.availableParallelism(),
    kernels,
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
