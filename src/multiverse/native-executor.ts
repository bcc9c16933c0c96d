/**
 * The embedded engine as an executor of the Multiverse plan (plan.ts): sequences decoded token by
 * token in the step loop (every branch of every request in one native step), sampled here
 * (or picked by `pickToken`), their tags read by a TagScanner; a fork shares the KV by reference
 * and a join merges it in label order, nothing recomputed. A path ends with its closing tag's KV
 * computed in the path; the last token of a finished run is deferred (its KV is needed only if
 * someone continues from it).
 */
import { GenerationError } from '../engine/errors.js';
import type { ResolvedOptions } from '../engine/generate-options.js';
import { lanesFor, type StepCost } from '../engine/step-cost.js';
import { FORCED_TOKENS_SLACK, type RequestContext, type RequestStats } from '../engine/request-context.js';
import { sampleToken, scoreToken, type SampledToken } from '../engine/sampler.js';
import type { Sequence } from '../engine/sequence.js';
import { StreamingDetokenizer } from '../model/detokenizer.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { GenerationEvent } from './events.js';
import type { Cursor, Executor, RunState, StretchEnd } from './executor.js';
import { MultiversePlan } from './plan.js';
import { TagScanner, type TagMode } from './tag-scanner.js';
import { encodeOpener } from './template.js';

export interface NativeRunContext {
  request: RequestContext;
  tokenizer: Tokenizer;
  tags: TagMode;
  vocabSize: number;
  contextLength: number;
  options: ResolvedOptions;
  emit(event: GenerationEvent): void;
  /** True once the subscriber of this branch (or of an ancestor) has gone. */
  branchCancelled(branch: string): boolean;
  /** True once the whole request was cancelled. */
  cancelled(): boolean;
  /** The engine's step cost (measured once per model and kernels; rejects when it cannot run now). */
  stepCost(): Promise<StepCost>;
}

/** The history sampling sees when no repetition penalty reads it. */
const NO_HISTORY: readonly number[] = [];

/** The plan of one run (a request, a session branch, a chat turn) on the embedded engine. */
export function nativePlan(ctx: NativeRunContext): MultiversePlan<Sequence> {
  return new MultiversePlan(new NativeExecutor(ctx), ctx.options, ctx.emit);
}

class NativeExecutor implements Executor<Sequence> {
  readonly contextLength: number;

  constructor(private readonly ctx: NativeRunContext) {
    this.contextLength = ctx.contextLength;
  }

  cursor(run: RunState<Sequence>, inPath: boolean): Cursor<Sequence> {
    return new NativeCursor(this.ctx, run, inPath);
  }

  cancelled(): boolean {
    return this.ctx.cancelled();
  }

  branchCancelled(branch: string): boolean {
    return this.ctx.branchCancelled(branch);
  }

  fork(seq: Sequence, n: number): Sequence[] {
    return seq.fork(n);
  }

  /**
   * Reserves the KV a fork may add beyond the critical path the request reserved (the plan's
   * `extraTokens`), plus each path's forced tokens. All paths are reserved or none; waits while
   * running requests hold it.
   */
  admitFork(paths: number, extraTokens: number): Promise<boolean> {
    return this.ctx.request.claimOrWait(extraTokens + paths * FORCED_TOKENS_SLACK);
  }

  refuseFork(): void {
    this.ctx.request.refuseFork();
  }

  /** Read off the step-cost curve; all at once when it cannot be measured now (the KV pool is taken). */
  autoLanes(): Promise<number> {
    return this.ctx.stepCost().then(lanesFor, () => Infinity);
  }

  async join(parent: Sequence, children: readonly Sequence[], ended: readonly Sequence[], run: { cancelled: boolean; finished: boolean }) {
    if (run.cancelled) return undefined;
    // A path that ended the request deferred its last token; the merged KV must hold it too.
    if (run.finished) await Promise.all(ended.map((s) => s.settle()));
    const merged = parent.merge(ended);
    for (const s of new Set([parent, ...children, ...ended])) s.release();
    const before = parent.tokenCount;
    return { seq: merged, pathTokens: ended.map((s) => s.tokenCount - before) };
  }

  written(seq: Sequence): { tokenIds: number[]; text: string } {
    return seq.written();
  }

  appendText(seq: Sequence, text: string): void {
    seq.appendText(text);
  }

  promptTokens(startTokens: number): number {
    return startTokens;
  }

  countToken(): void {
    this.ctx.request.countToken();
  }

  stats(criticalPathTokens: number): RequestStats {
    return this.ctx.request.stats(criticalPathTokens);
  }

  /** Nothing runs ahead of the plan: each token waits for its step. */
  abortAll(): void {}
}

/** One level of the fork stack: its tag scanner, open goal, detokenizer and count of picked tokens. */
class NativeCursor implements Cursor<Sequence> {
  private readonly scanner: TagScanner;
  private readonly detok: StreamingDetokenizer;
  private goal?: number[];
  /** Tokens picked at this level so far (what pickToken sees as `generated`). */
  private generated = 0;

  constructor(
    private readonly ctx: NativeRunContext,
    private readonly run: RunState<Sequence>,
    private readonly inPath: boolean,
  ) {
    this.scanner = new TagScanner(ctx.tags);
    this.detok = new StreamingDetokenizer(ctx.tokenizer);
  }

  /** Token by token: every goal that closes is reported (the plan applies the fork guards). */
  async next(seq: Sequence): Promise<StretchEnd> {
    const { run, inPath } = this;
    for (;;) {
      if (run.finished || run.cancelled() || (inPath && run.branchCancelled(seq.branch))) return { kind: 'interrupted' };
      if (this.endAt(seq, 0)) return { kind: 'interrupted' };
      const picked = this.pick(seq, seq.lastLogits!);
      if (this.ctx.options.stopTokenIds.has(picked.token)) return { kind: 'endOfSequence' };
      const position = seq.nextPos;
      const text = this.detok.push(picked.token);
      const shown = inPath ? text : run.show(text);
      // The text goes into the transcript with its token (feed or defer).
      this.run.emitToken(seq, picked, position, shown, false);
      const tags = this.scanner.push(picked.token);
      if (tags.includes('<Goal>')) this.goal = [];
      this.goal?.push(picked.token);
      // The token just emitted takes seq.nextPos; if the one after it would break a limit, this
      // token's KV is never needed: end here without a step.
      if (run.finished || this.endAt(seq, 1)) {
        seq.defer(picked.token, shown);
        return { kind: 'interrupted' };
      }
      await seq.feed([picked.token], 'last', [position], shown);
      // A path ends with its closing tag's KV computed in the path itself.
      if (inPath && tags.includes('</Path>')) return { kind: 'pathClosed' };
      if (this.goal && tags.includes('</Goal>')) {
        const goal = this.ctx.tokenizer.decode(this.goal);
        this.goal = undefined;
        return { kind: 'goal', goal };
      }
    }
  }

  open(seq: Sequence, text: string, tag: '<Path>' | '<Conclusion>'): Promise<void> {
    const opener = encodeOpener(text, tag, seq.nextPos, this.ctx.tokenizer, this.ctx.tags);
    return this.force(seq, opener.tokens, opener.positions);
  }

  close(seq: Sequence): Promise<void> {
    const close = this.ctx.tokenizer.encode('</Path>', { addSpecialTokens: false });
    return this.force(seq, close, close.map((_, i) => seq.nextPos + i));
  }

  flush(): string {
    return this.detok.flush();
  }

  /** Ends the run when the next token (after `pending` not yet stepped) would break a limit. */
  private endAt(seq: Sequence, pending: number): boolean {
    const limit = this.run.limitAt(seq, pending);
    if (limit) this.run.end(limit);
    return limit !== undefined;
  }

  /**
   * Steps forced tokens (an opener) and emits them, scored by the logits before each: the
   * sequence's last logits for the first, the opener's own rows for the rest.
   */
  private async force(seq: Sequence, tokens: number[], positions: number[]): Promise<void> {
    const vocab = this.ctx.vocabSize;
    const before = seq.lastLogits!;
    const texts = tokens.map((token) => this.detok.push(token));
    const rows = await seq.feed(tokens, 'all', positions, texts.join(''));
    tokens.forEach((token, i) => {
      const prev = i === 0 ? before : rows.subarray((i - 1) * vocab, i * vocab);
      this.run.emitToken(seq, scoreToken(prev, token, this.ctx.options.sampling.topLogprobs), positions[i], texts[i], true);
    });
  }

  private pick(seq: Sequence, logits: Float32Array): SampledToken {
    const { options, vocabSize } = this.ctx;
    const generated = this.generated++;
    const forced = options.pickToken?.({ branch: seq.branch, logits, generated });
    if (forced !== undefined) {
      if (!Number.isInteger(forced) || forced < 0 || forced >= vocabSize) {
        throw new GenerationError('INVALID_REQUEST', `pickToken returned ${forced}, not a token id of this model`);
      }
      return scoreToken(logits, forced, options.sampling.topLogprobs);
    }
    const history = options.sampling.repetitionPenalty === 1 ? NO_HISTORY : seq.tokenIds();
    return sampleToken(logits, options.sampling, seq.rng, history);
  }
}
