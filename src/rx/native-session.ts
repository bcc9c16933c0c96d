/**
 * The embedded engine's side of a session (rx/session.ts): one request whose sequences share the
 * KV. The input is prefilled once; a fork shares its node's KV by reference (after reserving the
 * branches' worst case from the session's plan, or from free KV), each branch decodes with the
 * Multiverse plan in the shared step loop, and a merge joins the children's KV in order, nothing
 * recomputed. Ending the session releases every sequence and the reservation at once.
 */
import type { Observable, ObservableInput } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import type { GenerateOptions, ResolvedOptions } from '../engine/generate-options.js';
import { FORCED_TOKENS_SLACK, RequestContext, stretchSlots } from '../engine/request-context.js';
import { Rng } from '../engine/rng.js';
import type { Sequence } from '../engine/sequence.js';
import { promptTokens, type GenerateInput } from '../engine/prompt-tokens.js';
import type { LoadedModel } from '../multiverse/loaded-model.js';
import type { GenerationEvent } from '../multiverse/events.js';
import { multiverseRun, resolveModelOptions } from './generate.js';
import { runSession, type BranchRun, type Node, type SessionBackend, type SessionPlan } from './session.js';
import { ROOT_BRANCH } from '../engine/branch-path.js';

export function session<T>(model: LoadedModel, input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>, plan: SessionPlan = {}): Observable<T> {
  return runSession(
    (closed) => {
      const request = new RequestContext(model.loop);
      const ready = (async () => {
        const resolved = resolveModelOptions(model, options);
        const ctx = model.info.contextLength;
        const prompt = await promptTokens(model, input, resolved, ctx - 1);
        const branches = plan.branches ?? 0;
        if (!Number.isInteger(branches) || branches < 0) throw new GenerationError('INVALID_REQUEST', `plan.branches must be an integer >= 0, got ${JSON.stringify(plan.branches)}`);
        const planned = branches * stretchSlots(prompt.length, resolved.maxTokens, ctx);
        await request.admit(model.admission, Math.min(prompt.length + FORCED_TOKENS_SLACK, model.info.kvSlots) + planned, resolved.waitForKv, planned);
        if (closed()) return undefined;
        const root = request.createSequence(ROOT_BRANCH, Rng.fromSeed(resolved.seed));
        await root.feed(prompt, 'last');
        return { backend: new NativeSessionBackend(model, request, closed), root };
      })();
      return { ready, end: () => request.releaseAll() };
    },
    options,
    build,
  );
}

class NativeSessionBackend implements SessionBackend<Sequence, ResolvedOptions> {
  constructor(
    private readonly model: LoadedModel,
    private readonly request: RequestContext,
    private readonly closed: () => boolean,
  ) {}

  resolve(options: GenerateOptions): ResolvedOptions {
    return resolveModelOptions(this.model, options);
  }

  async fork(seq: Sequence, n: number, options: ResolvedOptions): Promise<Sequence[]> {
    await seq.settle();
    // From the plan's earmark, else from free KV; unplanned branches that do not fit run unguaranteed.
    this.request.claim(n * stretchSlots(seq.nextPos, options.maxTokens, this.model.info.contextLength));
    return seq.fork(n);
  }

  async merge(seq: Sequence, children: readonly Sequence[]): Promise<Sequence> {
    // Finished branches deferred their last token; the merged context must hold its KV.
    await Promise.all(children.map((c) => c.settle()));
    return seq.merge(children);
  }

  release(seq: Sequence): void {
    seq.release();
  }

  branch(child: Sequence, prompt: string | undefined, options: ResolvedOptions, emit: (event: GenerationEvent) => void): BranchRun<Sequence> {
    let cancelled = false;
    const run = multiverseRun(this.model, this.request, options, { emit, cancelled: () => cancelled || this.closed() });
    const result = (async () => {
      if (prompt !== undefined) {
        const ids = this.model.tokenizer.encode(prompt, { addSpecialTokens: false });
        if (ids.length > 0) await child.feed(ids, 'last');
      }
      return run.continueFrom(child);
    })();
    return { result, cancel: () => (cancelled = true) };
  }
}
