/**
 * The cold Observable behind Model.events(): subscribing tokenizes the input, reserves its KV
 * (waiting in the admission queue when the pool is taken) and runs the request through the
 * Multiverse plan on the shared step loop; a request the pool preempts runs again from its prompt,
 * its stream passing on only what is new (ReplayGate); unsubscribing cancels it and releases
 * all of its KV at once. Errors arrive as GenerationError through `subscriber.error`, after the
 * request's KV was released.
 */
import { Observable } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from '../engine/generate-options.js';
import { isWithin, ROOT_BRANCH } from '../engine/branch-path.js';
import { RequestContext, stretchSlots } from '../engine/request-context.js';
import { eosTokenIds } from '../model/eos.js';
import { promptTokens, type GenerateInput } from '../engine/prompt-tokens.js';
import { Rng } from '../engine/rng.js';
import { runtimeStepCost } from '../engine/step-cost.js';
import type { Sequence } from '../engine/sequence.js';
import type { LoadedModel } from '../multiverse/loaded-model.js';
import { nativePlan, type NativeRunContext } from '../multiverse/native-executor.js';
import type { MultiversePlan } from '../multiverse/plan.js';
import type { DoneEvent, GenerationEvent } from './events.js';
import { ReplayGate } from './replay-gate.js';

export type { GenerateInput } from '../engine/prompt-tokens.js';

/** Lets a view of the stream (the stage API) cancel single branches of a running request. */
export interface RequestControl {
  /** Ends the path at `branch` (and any nested in it) early; the merge goes on with it truncated. */
  cancelBranch(branch: string): void;
}

export function requestEvents(
  model: LoadedModel,
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
      onStart?.({
        cancelBranch: (branch) => {
          cancelledBranches.add(branch);
          // A rerun would cut that path at its start, not where it was cut.
          request.preemptible(undefined);
        },
      });
      const hooks = {
        emit: (e: GenerationEvent) => subscriber.next(e),
        cancelled: () => cancelled,
        // Asked before every token of every path: nothing to walk until a branch was cancelled.
        branchCancelled: (branch: string) => cancelledBranches.size > 0 && [...cancelledBranches].some((b) => isWithin(branch, b)),
        preemptible: () => cancelledBranches.size === 0,
      };
      const { done } = await runToEnd(model, request, resolved, hooks, async () => {
        const root = request.createSequence(ROOT_BRANCH, Rng.fromSeed(resolved.seed));
        await root.feed(prompt, 'last');
        return root;
      });
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
  model: LoadedModel,
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
    // Never waits for KV: this request holds its own, and others may be waiting for theirs to fork.
    stepCost: () => runtimeStepCost(model, { waitForKv: false }),
    ...hooks,
  });
}

/**
 * Runs a request's plan from `begin()` (its start sequence, its input fed) to the end, and again
 * from the start each time the pool preempts it (engine/admission.ts). Events go through a
 * ReplayGate, so each reaches `hooks.emit` once: the consumer sees a pause. Not preemptible while
 * `hooks.preemptible()` is false, nor with a deadline (a rerun would restart the clock).
 */
export async function runToEnd(
  model: LoadedModel,
  request: RequestContext,
  options: ResolvedOptions,
  hooks: Pick<NativeRunContext, 'emit' | 'cancelled'> & Partial<Pick<NativeRunContext, 'branchCancelled'>> & { preemptible?: () => boolean },
  begin: () => Promise<Sequence>,
): Promise<{ done: DoneEvent; end: Sequence }> {
  const gate = new ReplayGate();
  const { preemptible = () => true, ...runHooks } = hooks;
  for (;;) {
    const run = multiverseRun(model, request, options, { ...runHooks, emit: (e) => (e.type === 'done' || gate.pass(e)) && hooks.emit(e) });
    request.preemptible(preemptible() && !Number.isFinite(options.timeoutMs) ? () => run.halt() : undefined);
    const result = await run.continueFrom(await begin());
    if (!request.preempted || hooks.cancelled()) return result;
    await request.rerun();
    gate.rerun();
  }
}

/** Options with this model's defaults filled in. @throws GenerationError INVALID_REQUEST. */
export function resolveModelOptions(model: LoadedModel, options: GenerateOptions): ResolvedOptions {
  return resolveOptions(options, {
    generationConfig: model.checkpoint.generationConfig,
    eosTokenIds: eosTokenIds(model.checkpoint, model.tokenizer),
    template: model.template,
  });
}
