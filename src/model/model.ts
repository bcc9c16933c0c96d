/**
 * A loaded model: checkpoint, tokenizer, native engine and its step loop. `loadModel()` builds one;
 * `generate()` returns a cold Observable of events; `dispose()` frees the weights and the KV pool.
 */
import { Observable } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { StepLoop } from '../engine/step-loop.js';
import type { KvStats, NativeEngine } from '../native/binding.js';
import { generateEvents, type GenerateInput } from '../rx/generate.js';
import type { GenerationEvent } from '../rx/events.js';
import type { Checkpoint } from './checkpoint.js';
import type { Tokenizer } from './tokenizer.js';

export interface ModelInfo {
  dir: string;
  architecture: string;
  parameterCount: number;
  weightDtype: string;
  /** Positions one sequence may use: the model's context, capped by the KV pool. */
  contextLength: number;
  kvSlots: number;
  /** Kernels in use: 'cpu-avx2' or 'cpu-portable'. */
  backend: string;
}

export class Model {
  private disposed = false;

  /** @internal Use loadModel(). */
  constructor(
    readonly checkpoint: Checkpoint,
    readonly tokenizer: Tokenizer,
    /** @internal */ readonly engine: NativeEngine,
    /** @internal */ readonly loop: StepLoop,
    readonly info: ModelInfo,
  ) {}

  /**
   * Generates from a chat (`ChatMessage[]`), a string (through the chat template unless
   * `options.raw`), or token ids (`number[]`). Cold: nothing runs until subscribed; unsubscribing
   * cancels the request and frees its KV within one step. Errors are GenerationError values.
   *
   * @example
   * ```ts
   * const model = await loadModel('models/default');
   * model.generate('Compute 12*3 + 4*5', { maxTokens: 64, temperature: 0 }).subscribe((e) => {
   *   if (e.type === 'token') process.stdout.write(e.text);
   * });
   * ```
   */
  generate(input: GenerateInput, options: GenerateOptions = {}): Observable<GenerationEvent> {
    return generateEvents(this, input, options);
  }

  /** KV pool occupancy (free slots return to the total once every request has ended). */
  kvStats(): KvStats {
    return this.engine.kvStats();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Fails running requests with MODEL_DISPOSED and frees the weights and KV pool. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.loop.stop();
    await this.loop.whenIdle();
    this.engine.dispose();
  }
}
