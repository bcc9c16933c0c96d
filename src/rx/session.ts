/**
 * Branching from user code, on any model (docs/reactive-api.md): a session holds one request's KV tree.
 * `model.session(input, build)` prefills the input once and hands `build` the root Node; from a
 * Node you fork branches (n ways, or one per prompt), each backed by a forked native sequence over
 * the shared prefix, decoded together in the step loop. A finished branch's result is a Node again,
 * so you can fork from it (tree search) or merge branches back losslessly (`mergeBranches`).
 * Everything is released when the Observable that `build` returns completes, errors or is
 * unsubscribed.
 *
 *   model.session(prompt, (root) => root.fork(5, { temperature: 0.8 }).pipe(vote((r) => answerOf(r.text))))
 */
import { defer, from, mergeAll, Observable, type ObservableInput } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import type { GenerateOptions, ResolvedOptions } from '../engine/generate-options.js';
import { FORCED_TOKENS_SLACK, RequestContext, stretchSlots } from '../engine/request-context.js';
import { Rng } from '../engine/rng.js';
import type { Sequence } from '../engine/sequence.js';
import type { Model } from '../model/model.js';
import type { DoneEvent, ForkEvent, JoinEvent, TokenEvent } from './events.js';
import { BranchOutlet } from './branch-outlet.js';
import { multiverseRun, promptTokens, resolveModelOptions, type GenerateInput } from './generate.js';

/** How to fork: n identical branches, or one branch per prompt (appended to the shared prefix). */
export type ForkSpec = number | { prompts: string[] };

/** What a session will fork, so that it can reserve the KV up front (see docs/api.md, Admission). */
export interface SessionPlan {
  /**
   * Branches of `options.maxTokens` each that the session will fork from its root: their worst case
   * is reserved before the prompt is prefilled, waiting in the admission queue if need be, so they
   * never fail for lack of KV. Forks beyond the plan take unreserved KV when the pool has it and
   * otherwise may fail with KV_EXHAUSTED. Default 0.
   */
  branches?: number;
}

/** A point in a session's KV tree: the prefix, a finished branch, or a merge. */
export interface Node {
  /** Branch path of the sequence this node ends: '0' for the prefix, '0/2' for its third branch. */
  readonly branch: string;
  /** Forks this node; each branch decodes on its own sequence from here until it ends. */
  fork(spec: ForkSpec, options?: GenerateOptions): Observable<Branch>;
  /** Continues this node: one branch decoding from here (a fork of one, which copies nothing). */
  generate(options?: GenerateOptions): Observable<Branch>;
  /**
   * Lossless reduce: a node whose context is this node's, then each child's own tokens in the
   * order given, their KV reused as is (Multiverse merge; the next position is the largest among
   * them). Children must be results of forks of this node.
   */
  merge(children: readonly Node[]): Observable<Node>;
  /** Frees this node's hold on its KV now (the session frees everything at its end anyway). */
  release(): void;
}

/** One forked branch while it runs. */
export interface Branch {
  readonly branch: string;
  readonly index: number;
  /** The per-branch prompt, when the fork gave one. */
  readonly prompt?: string;
  /** The node it forked from (mergeBranches merges into it). */
  readonly parent: Node;
  /** The branch's tokens, replayed from the start. Letting go of every subscription cancels the branch. */
  readonly tokens$: Observable<TokenEvent>;
  /**
   * Everything the branch does, replayed from the start: its tokens and the forks and joins of
   * blocks the model writes inside it (for trees and UIs). Completes when the branch ends.
   */
  readonly events$: Observable<TokenEvent | ForkEvent | JoinEvent>;
  /** Emits the branch's result when it ends, then completes. */
  readonly result$: Observable<BranchResult>;
}

export interface BranchResult {
  readonly branch: string;
  readonly index: number;
  readonly prompt?: string;
  readonly tokenIds: number[];
  readonly text: string;
  /** Logprob of each generated token (sampled or forced), in order. */
  readonly logprobs: number[];
  /** Mean of logprobs (-Infinity for an empty branch): the usual best-of-n score. */
  readonly meanLogprob: number;
  readonly finishReason: DoneEvent['finishReason'];
  /** The branch was cancelled (its tokens$ let go) before it ended. */
  readonly truncated: boolean;
  /** Where this branch stands: fork again from it, or merge it. */
  readonly node: Node;
}

/** @internal What every node of one session shares. */
interface SessionContext {
  model: Model;
  request: RequestContext;
  options: GenerateOptions;
  closed(): boolean;
}

class SessionNode implements Node {
  constructor(
    private readonly s: SessionContext,
    /** @internal */ readonly seq: Sequence,
  ) {}

  get branch(): string {
    return this.seq.branch;
  }

  fork(spec: ForkSpec, options: GenerateOptions = {}): Observable<Branch> {
    return defer(async () => {
      const prompts = typeof spec === 'number' ? undefined : spec.prompts;
      const n = prompts ? prompts.length : spec;
      if (!Number.isInteger(n) || (n as number) < 1) throw new GenerationError('INVALID_REQUEST', `fork needs at least one branch, got ${JSON.stringify(spec)}`);
      const resolved = resolveModelOptions(this.s.model, { ...this.s.options, ...options });
      const logits = await this.seq.settle();
      // From the plan's earmark, else from free KV; unplanned branches that do not fit run unguaranteed.
      this.s.request.claim((n as number) * stretchSlots(this.seq.nextPos, resolved.maxTokens, this.s.model.info.contextLength));
      return this.seq.fork(n as number).map((child, i) => this.startBranch(child, i, logits, prompts?.[i], resolved));
    }).pipe(mergeAll());
  }

  generate(options: GenerateOptions = {}): Observable<Branch> {
    return this.fork(1, options);
  }

  merge(children: readonly Node[]): Observable<Node> {
    return defer(async () => {
      const seqs = children.map((c) => {
        if (!(c instanceof SessionNode) || c.s !== this.s) throw new GenerationError('INVALID_REQUEST', 'merge takes nodes of the same session');
        return c.seq;
      });
      if (seqs.length === 0) throw new GenerationError('INVALID_REQUEST', 'merge needs at least one node');
      // Finished branches deferred their last token; the merged context must hold its KV.
      await Promise.all(seqs.map((q) => q.settle()));
      return new SessionNode(this.s, this.seq.merge(seqs)) as Node;
    });
  }

  release(): void {
    this.seq.release();
  }

  /** Starts decoding one branch in the background and returns its handle. */
  private startBranch(child: Sequence, index: number, logits: Float32Array, prompt: string | undefined, resolved: ResolvedOptions): Branch {
    const { model, request } = this.s;
    let cancelled = false;
    const outlet = new BranchOutlet({ branch: child.branch, index, ...(prompt !== undefined ? { prompt } : {}), parent: this }, () => (cancelled = true));
    const run = multiverseRun(model, request, resolved, { emit: (e) => outlet.push(e), cancelled: () => cancelled || this.s.closed() });
    const go = async () => {
      if (prompt !== undefined) {
        const ids = model.tokenizer.encode(prompt, { addSpecialTokens: false });
        if (ids.length > 0) await child.feed(ids, 'last');
      }
      const { done, end } = await run.continueFrom(child);
      // A branch that forked ends on the merge, whose KV holds its paths: that is where it stands.
      outlet.end(done, new SessionNode(this.s, end));
    };
    go().catch((err: unknown) => outlet.fail(err));
    return outlet.handle;
  }
}

/**
 * Runs `build` over the root node of a prefilled input; the session's KV lives until the
 * Observable it returns completes, errors or is unsubscribed.
 */
export function session<T>(model: Model, input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>, plan: SessionPlan = {}): Observable<T> {
  return new Observable<T>((subscriber) => {
    let closed = false;
    const request = new RequestContext(model.loop);
    const s: SessionContext = { model, request, options, closed: () => closed };
    let inner: { unsubscribe(): void } | undefined;
    (async () => {
      const resolved = resolveModelOptions(model, options);
      const prompt = await promptTokens(model, input, resolved, model.info.contextLength - 1);
      const branches = plan.branches ?? 0;
      if (!Number.isInteger(branches) || branches < 0) throw new GenerationError('INVALID_REQUEST', `plan.branches must be an integer >= 0, got ${JSON.stringify(plan.branches)}`);
      const planned = branches * stretchSlots(prompt.length, resolved.maxTokens, model.info.contextLength);
      await request.admit(model.admission, Math.min(prompt.length + FORCED_TOKENS_SLACK, model.info.kvSlots) + planned, resolved.waitForKv, planned);
      if (closed) return;
      const root = request.createSequence('0', Rng.fromSeed(resolved.seed));
      await root.feed(prompt, 'last');
      if (closed) return;
      inner = from(build(new SessionNode(s, root))).subscribe(subscriber);
    })().catch((err: unknown) => subscriber.error(err));
    return () => {
      closed = true;
      inner?.unsubscribe();
      request.releaseAll();
    };
  });
}
