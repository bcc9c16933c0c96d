/**
 * What a loaded model hands the layers above the engine: its checkpoint and tokenizer, the native
 * engine with its step loop and KV admission, and the limits it runs under. The facade's `Model`
 * implements it (with the Multiverse parts of multiverse/loaded-model.ts); code below the facade
 * depends on this shape, never on `Model` itself.
 */
import type { Checkpoint } from '../model/checkpoint.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { NativeEngine } from '../native/binding.js';
import type { KvAdmission } from './admission.js';
import type { StepLoop } from './step-loop.js';

export interface ModelInfo {
  dir: string;
  architecture: string;
  parameterCount: number;
  weightDtype: string;
  /** Positions one sequence may use: the model's context, capped by the KV pool. */
  contextLength: number;
  kvSlots: number;
  /** Kernels in use: 'cpu-avx2', 'cpu-portable' or 'cuda-smXY'. */
  backend: string;
  /** Where the math runs. */
  device: 'cpu' | 'cuda';
}

export interface NativeRuntime {
  readonly checkpoint: Checkpoint;
  readonly tokenizer: Tokenizer;
  readonly engine: NativeEngine;
  readonly loop: StepLoop;
  readonly info: ModelInfo;
  /** Who gets KV: requests reserve their worst case here or wait in its queue. */
  readonly admission: KvAdmission;
  /** True once dispose() began: new requests fail with MODEL_DISPOSED. */
  readonly isDisposed: boolean;
}
