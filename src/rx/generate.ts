/**
 * The cold Observable behind Model.events(): subscribing tokenizes the input, reserves its KV
 * (waiting in the admission queue when the pool is taken) and runs the request through the
 * Multiverse plan on the shared step loop; unsubscribing cancels it and releases
 * all of its KV at once. Errors arrive as GenerationError through `subscriber.error`, after the
 * request's KV was released.
 */
import { Observable } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from '../engine/generate-options.js';
import { RequestContext, stretchSlots } from '../engine/request-context.js';
import { eosTokenIds } from '../model/eos.js';
import type { Model } from '../model/model.js';
import type { ChatMessage } from '../model/tokenizer.js';
import { Rng } from '../engine/rng.js';
import type { Sequence } from '../engine/sequence.js';
import { nativePlan, type NativeRunContext } from '../multiverse/native-executor.js';
import type { MultiversePlan } from '../multiverse/plan.js';
import type { GenerationEvent } from './events.js';

/** Chat messages, a string (chat template unless `raw`), or token ids. */
export type GenerateInput = string | readonly ChatMessage[] | readonly number[];

/** Lets a view of the stream (the stage API) cancel single branches of a running request. */
export interface RequestControl {
  /** Ends the path at `branch` (and any nested in it) early; the merge goes on with it truncated. */
  cancelBranch(branch: string): void;
}

export function requestEvents(
  model: Model,
  input: GenerateInput,
  options: GenerateOptions,
  onStart?: (control: RequestControl) => void,
): Observable<GenerationEvent> {
  return new Observable<GenerationEvent>((subscriber) => {
    let cancelled = false;
    const cancelledBranches = new Set<string>();
    const request = new RequestContext(model.loop);

    const start = async () => {
      if (model.isDisposed) throw new GenerationError('MODEL_DISPOSED', 'the model was disposed');
      const resolved = resolveModelOptions(model, options);
      const ctx = model.info.contextLength;
      const prompt = await promptTokens(model, input, resolved, ctx - 1);
      if (cancelled) return;
      // The critical path's worst case; a fork reserves its extra paths when it happens.
      const slots = prompt.length + stretchSlots(prompt.length, resolved.maxTokens, ctx);
      await request.admit(model.admission, Math.min(slots, model.info.kvSlots), resolved.waitForKv);
      onStart?.({ cancelBranch: (branch) => cancelledBranches.add(branch) });
      const run = multiverseRun(model, request, resolved, {
        emit: (e) => subscriber.next(e),
        cancelled: () => cancelled,
        branchCancelled: (branch) => [...cancelledBranches].some((b) => branch === b || branch.startsWith(`${b}/`)),
      });
      const root = request.createSequence('0', Rng.fromSeed(resolved.seed));
      await root.feed(prompt, 'last');
      const { done } = await run.continueFrom(root);
      request.releaseAll();
      if (!cancelled) {
        subscriber.next(done);
        subscriber.complete();
      }
    };

    start().catch((err: unknown) => {
      request.releaseAll();
      if (!cancelled) subscriber.error(err);
    });

    return () => {
      cancelled = true;
      request.releaseAll();
    };
  });
}

/** The Multiverse plan of one run on `model`'s engine: what it emits to and how it learns of cancellations. */
export function multiverseRun(
  model: Model,
  request: RequestContext,
  options: ResolvedOptions,
  hooks: Pick<NativeRunContext, 'emit' | 'cancelled'> & Partial<Pick<NativeRunContext, 'branchCancelled'>>,
): MultiversePlan<Sequence> {
  return nativePlan({
    request,
    tokenizer: model.tokenizer,
    tags: model.tagMode,
    vocabSize: model.checkpoint.config.vocabSize,
    contextLength: model.info.contextLength,
    options,
    branchCancelled: () => false,
    ...hooks,
  });
}

/** Options with this model's defaults filled in. @throws GenerationError INVALID_REQUEST. */
export function resolveModelOptions(model: Model, options: GenerateOptions): ResolvedOptions {
  return resolveOptions(options, {
    generationConfig: model.checkpoint.generationConfig,
    eosTokenIds: eosTokenIds(model.checkpoint, model.tokenizer),
    template: model.template,
  });
}

/**
 * The prompt's token ids, at most `maxTokens` of them (a prompt must leave the context a position to
 * generate into). Text is refused from its byte length alone when it cannot fit, before any
 * encoding, and large text is encoded without holding the event loop (Tokenizer.encodeYielding).
 * @throws GenerationError INVALID_REQUEST for empty or out-of-vocabulary input; CONTEXT_OVERFLOW
 *   for more than `maxTokens` tokens.
 */
export async function promptTokens(
  model: Model,
  input: GenerateInput,
  options: Pick<ResolvedOptions, 'raw'>,
  maxTokens = Infinity,
): Promise<number[]> {
  const { tokenizer } = model;
  const vocab = model.checkpoint.config.vocabSize;
  const encode = async (text: string, addSpecialTokens: boolean) => {
    const least = tokenizer.minTokens(text);
    if (least > maxTokens) {
      throw new GenerationError(
        'CONTEXT_OVERFLOW',
        `the prompt is ${Buffer.byteLength(text)} bytes of text, at least ${least} tokens; at most ${maxTokens} fit ${contextOf(model)}`,
      );
    }
    const ids = await tokenizer.encodeYielding(text, { addSpecialTokens, maxTokens });
    // encodeYielding stops soon after the limit, so the count is then only a lower bound.
    if (ids.length > maxTokens) throw overflow(`at least ${ids.length}`, model);
    return checkPrompt(ids, vocab, maxTokens, model);
  };
  if (typeof input === 'string') {
    const text = options.raw ? input : tokenizer.applyChatTemplate([{ role: 'user', content: input }], { addGenerationPrompt: true });
    return encode(text, options.raw);
  }
  if (!Array.isArray(input)) throw new GenerationError('INVALID_REQUEST', 'input must be a string, chat messages or token ids');
  if (input.every((t) => typeof t === 'number')) return checkPrompt([...(input as number[])], vocab, maxTokens, model);
  const messages = input as readonly ChatMessage[];
  if (!messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw new GenerationError('INVALID_REQUEST', 'chat messages need string role and content');
  }
  return encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), false);
}

function checkPrompt(tokens: number[], vocab: number, maxTokens: number, model: Model): number[] {
  if (tokens.length === 0) throw new GenerationError('INVALID_REQUEST', 'the prompt is empty');
  if (tokens.length > maxTokens) throw overflow(String(tokens.length), model);
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
  if (bad !== undefined) throw new GenerationError('INVALID_REQUEST', `token id ${bad} is outside the vocabulary (0..${vocab - 1})`);
  return tokens;
}

function overflow(count: string, model: Model): GenerationError {
  return new GenerationError('CONTEXT_OVERFLOW', `prompt of ${count} tokens leaves no room in ${contextOf(model)}`);
}

function contextOf(model: Model): string {
  return `a context of ${model.info.contextLength} positions`;
}
