/**
 * loadModel(path): validates the checkpoint folder or GGUF file (typed ModelLoadError on anything
 * malformed), loads the tokenizer, maps the weights natively and starts the step loop.
 */
import os from 'node:os';
import { KvAdmission } from '../engine/admission.js';
import { StepLoop } from '../engine/step-loop.js';
import { loadNative, type KernelSet, type NativeDevice } from '../native/binding.js';
import { checkWeightsFinite } from '../model/check-weights.js';
import { ModelLoadError } from '../model/errors.js';
import { openModel } from '../model/open-model.js';
import { tagModeOf } from '../multiverse/tag-scanner.js';
import { readTemplate } from '../multiverse/template.js';
import { localModelDir } from '../hub/model-source.js';
import type { HubOptions } from '../hub/settings.js';
import { Model } from './model.js';
import { shippedModelDir } from './shipped-models.js';

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
  /** Multiply-adds below which a loop runs on one thread instead of the pool; 0 splits every loop. Default 16384. */
  parallelMinWork?: number;
  /** Most tokens in one engine step (decodes plus prefill chunks). Default 512. */
  maxStepTokens?: number;
  /**
   * Scan every weight for NaN and ±Inf before the engine starts (NON_FINITE_WEIGHT). It reads each
   * weight file once, off the event loop: ~0.6 s for 584 MiB on a busy 2-core machine, a few percent
   * of loading that model (docs/api.md), so it is on by default; false skips it.
   */
  checkWeights?: boolean;
  /** Cache, endpoint, token, offline switch and download progress for hub ids. Default: from HF_* variables. */
  hub?: HubOptions;
  /**
   * Where the math runs: 'cuda' needs an addon built with MULTIVERSE_CUDA=ON and an NVIDIA GPU
   * (else ModelLoadError CUDA_UNAVAILABLE); 'auto' uses CUDA when it can, else the CPU. Default 'cpu'.
   */
  device?: NativeDevice;
  /**
   * Most requests waiting for KV at once (the admission queue); when it is full, new requests fail
   * with OVERLOADED (HTTP 429). Default 1024.
   */
  maxQueuedRequests?: number;
}

/**
 * Loads a Hugging Face checkpoint folder (`config.json`, `*.safetensors`, `tokenizer.json`,
 * `tokenizer_config.json`), a `.gguf` file or a hub model into a {@link Model}; with no source, the shipped
 * Multiverse model (`shippedModelDir()`, a 1M-parameter model that solves sums of products by forking).
 *
 * @example
 * ```ts
 * import { loadModel } from 'multiverse-rx';
 * const model = await loadModel();
 * model.events('Compute 37*4+12*9', { temperature: 0 }).subscribe((e) => {
 *   if (e.type === 'token') process.stdout.write(e.text);
 * });
 * ```
 * @param source a checkpoint folder, a `.gguf` file, or a Hugging Face hub model: `hf:org/name[@revision]`, or
 *   `org/name[@revision]` when no such local path exists. A hub model comes from the cache
 *   (huggingface_hub's layout, shared with Python) or is downloaded into it first.
 * @throws ModelLoadError for a malformed folder (its `code` names the problem, `file` and `tensor` where it is),
 *   NON_FINITE_WEIGHT for a NaN or infinite weight, HUB_* for a hub model that cannot be had;
 *   Error when the native engine cannot map the weights.
 */
export async function loadModel(source: string = shippedModelDir(), options: LoadModelOptions = {}): Promise<Model> {
  const { checkpoint, tokenizer } = await openModel(await localModelDir(source, options.hub));
  const c = checkpoint.config;
  const kvDtype = options.kvDtype ?? 'f16';
  const bytesPerSlot = c.numLayers * c.numKvHeads * c.headDim * 2 * (kvDtype === 'f16' ? 2 : 4);
  const maxByMemory = Math.max(1, Math.floor((options.kvMemoryBytes ?? 2 ** 31) / bytesPerSlot));
  const kvSlots = options.kvSlots ?? Math.min(4 * c.maxPositionEmbeddings, maxByMemory);
  const contextLength = Math.min(options.contextLength ?? c.maxPositionEmbeddings, kvSlots);
  const kernels = options.kernels ?? kernelsFromEnv(process.env.MULTIVERSE_KERNELS);
  const native = loadNative();
  if (options.checkWeights !== false) await checkWeightsFinite(native, checkpoint.tensors);
  const engine = newEngine(() => new native.Engine({
    ...c,
    kvSlots,
    threads: options.threads ?? os.availableParallelism(),
    kernels,
    device: options.device ?? 'cpu',
    kvDtype,
    tensors: checkpoint.tensors,
    ...(options.parallelMinWork === undefined ? {} : { parallelMinWork: options.parallelMinWork }),
  }), checkpoint.dir);
  const loop = new StepLoop(engine, c.vocabSize, { maxStepTokens: options.maxStepTokens ?? 512 });
  const info = {
    dir: checkpoint.dir,
    architecture: c.architecture,
    parameterCount: checkpoint.parameterCount,
    weightDtype: checkpoint.weightDtype,
    contextLength,
    kvSlots,
    backend: engine.backend,
    device: engine.backend.startsWith('cuda') ? ('cuda' as const) : ('cpu' as const),
  };
  const admission = new KvAdmission(kvSlots, { maxQueued: options.maxQueuedRequests });
  return new Model(checkpoint, tokenizer, engine, loop, info, await readTemplate(checkpoint.dir), tagModeOf(tokenizer), admission);
}

/** The engine, with the native "no CUDA here" error turned into a typed one. */
function newEngine<T>(create: () => T, dir: string): T {
  try {
    return create();
  } catch (err) {
    const message = (err as Error).message;
    const prefix = 'CUDA_UNAVAILABLE: ';
    if (message.startsWith(prefix)) throw new ModelLoadError('CUDA_UNAVAILABLE', message.slice(prefix.length), dir);
    throw err;
  }
}

const KERNEL_CHOICES = ['auto', 'portable', 'avx2', 'avx512'] as const;

/** MULTIVERSE_KERNELS=portable|avx2|avx512 forces a kernel set; unset or anything else is 'auto'. */
function kernelsFromEnv(value: string | undefined): 'auto' | KernelSet {
  return KERNEL_CHOICES.find((k) => k === value) ?? 'auto';
}
