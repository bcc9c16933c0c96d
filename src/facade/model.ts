/** The facade users hold: a loaded checkpoint behind the observable API. */
import { defer, type Observable, type ObservableInput } from 'rxjs';
import { session } from '../rx/native-session.js';
import type { Node, SessionPlan } from '../rx/session.js';
import type { AdmissionStats, KvAdmission } from '../engine/admission.js';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { StepLoop } from '../engine/step-loop.js';
import { runtimeStepCost, type StepCost } from '../engine/step-cost.js';
import type { KvStats, NativeEngine } from '../native/binding.js';
import type { TagMode } from '../multiverse/tag-scanner.js';
import type { MultiverseTemplate } from '../multiverse/template.js';
import { scoreTranscript, type ScoreOptions, type ScoreResult } from '../multiverse/score.js';
import { chatSession, type ChatOptions, type ChatSession } from '../rx/chat.js';
import { GenerationApi } from '../rx/generation-api.js';
import { requestEvents, type GenerateInput, type RequestControl } from '../rx/generate.js';
import type { GenerationEvent } from '../rx/events.js';
import { stagesOf, type Stage } from '../rx/stages.js';
import type { Checkpoint } from '../model/checkpoint.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { ModelInfo } from '../engine/native-runtime.js';
import type { LoadedModel } from '../multiverse/loaded-model.js';

export type { ModelInfo } from '../engine/native-runtime.js';

/**
 * A loaded model: checkpoint, tokenizer, native engine and its step loop. `loadModel()` builds one;
 * `events()`, `generate()` and `session()` return cold Observables (nothing runs until subscribed;
 * unsubscribing cancels and frees the KV within one step); `score()` reads a transcript's logprobs;
 * `dispose()` frees the weights and the KV pool.
 */
export class Model extends GenerationApi implements LoadedModel {
  private disposed = false;

  /** @internal Use loadModel(). */
  constructor(
    readonly checkpoint: Checkpoint,
    readonly tokenizer: Tokenizer,
    /** @internal */ readonly engine: NativeEngine,
    /** @internal */ readonly loop: StepLoop,
    readonly info: ModelInfo,
    /** The forced path and conclusion openers (multiverse.json, or the defaults). */
    readonly template: MultiverseTemplate,
    /** How this model writes the Multiverse tags: as added tokens, or as text. */
    readonly tagMode: TagMode,
    /** @internal Who gets KV: requests reserve their worst case here or wait in its queue. */
    readonly admission: KvAdmission,
  ) {
    super();
  }

  /** @internal */
  protected stagesOf(input: GenerateInput, options: GenerateOptions): Observable<Stage> {
    return defer(() => {
      let control: RequestControl | undefined;
      return stagesOf(requestEvents(this, input, options, (c) => (control = c)), (branch) => control?.cancelBranch(branch));
    });
  }

  /** @internal */
  protected eventsOf(input: GenerateInput, options: GenerateOptions): Observable<GenerationEvent> {
    return requestEvents(this, input, options);
  }

  /** @internal */
  protected sessionOf<T>(input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>, plan: SessionPlan): Observable<T> {
    return session(this, input, options, build, plan);
  }

  /**
   * A chat session that keeps the conversation's KV between turns: `send(message)` (events) or
   * `reply(message)` (a promise) per turn prefills only that turn's own tokens; earlier answers,
   * Parallel blocks included, stay in the KV with their Multiverse positions. `fork()` branches the
   * conversation without copying KV; `dispose()` frees it.
   *
   * The shipped model was trained on single questions: in a second turn it goes on from the first
   * one's answer, so give it one question per chat (or fork the chat per question); a chat model
   * from the hub holds real conversations.
   *
   * @example
   * ```ts
   * const chat = model.chat({ defaults: { temperature: 0 } });
   * const first = await chat.reply('Compute 17*3');
   * const second = await chat.reply('Compute 12*9'); // prefills its own 26 tokens, not the 24 + 31 before it
   * console.log(first.text.split('\n').at(-1), first.usage.promptTokens, second.usage.promptTokens);
   * chat.dispose();
   * // Logs:
   * // Answer: 51 24 26
   * ```
   */
  chat(options: ChatOptions = {}): ChatSession {
    return chatSession(this, options);
  }

  /**
   * The logprob of every token of a transcript (token ids, chat messages, or a string through the
   * chat template unless `options.raw`) under Multiverse semantics: what OpenAI's `echo` +
   * `logprobs` gives for plain text. Parallel blocks in the transcript are loaded as fork and merge
   * would have generated them, so a path's tokens are scored in the path's own context. All KV is
   * freed when the promise settles. Rejects with GenerationError (INVALID_REQUEST,
   * CONTEXT_OVERFLOW, KV_EXHAUSTED, ...).
   *
   * @example
   * ```ts
   * const { tokens, meanLogprob } = await model.score('The answer is 42.', { raw: true, topLogprobs: 3 });
   * ```
   */
  async score(input: GenerateInput, options: ScoreOptions = {}): Promise<ScoreResult> {
    return scoreTranscript(this, input, options);
  }

  /**
   * What one decode step costs this engine against the rows it carries (1, 2, 4, 8 and 16 sequences
   * at a 32-token context): where more parallel paths stop being nearly free. Measured on the first
   * call (its KV reserved like a request's; steps shared with running requests count their work
   * too, so ask while the model is idle), then kept for this model folder and kernel set for the
   * life of the process. `stepMs(cost, rows)` reads a row count off the curve;
   * `multiverse.maxPathsPerFork: 'auto'` reads its lanes off it (docs/multiverse.md).
   *
   * @example
   * ```ts
   * const cost = await model.stepCost();
   * console.log(cost.rows, cost.ms.length, cost.backend === model.info.backend);
   * // Logs:
   * // [ 1, 2, 4, 8, 16 ] 5 true
   * ```
   */
  stepCost(): Promise<StepCost> {
    return runtimeStepCost(this);
  }

  /** KV pool occupancy (free slots return to the total once every request has ended). */
  kvStats(): KvStats {
    return this.engine.kvStats();
  }

  /** Admission: slots reserved, requests running and waiting, queue waits and refusals so far. */
  admissionStats(): AdmissionStats {
    return this.admission.stats();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Fails running and waiting requests with MODEL_DISPOSED and frees the weights and KV pool. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.admission.close();
    this.loop.stop();
    await this.loop.whenIdle();
    this.engine.dispose();
  }
}
