/**
 * The Multiverse scheduler (docs/multiverse.md): decodes a request and turns the model's own
 * plan into parallel decoding. When a sequence closes a goal with parseable outlines, it forks one
 * path per outline; each path starts with a forced opener and ends at `</Path>` (whose KV is
 * computed in the path); when every path has ended, their KV is merged by reference in label order,
 * a conclusion opener is forced, and the parent continues at the largest next position among them.
 * Paths may fork again: the call stack is the fork stack.
 *
 * Guards: maximum depth, maximum paths per fork, no fork within `forkMargin` of the critical-path
 * budget or when the KV pool cannot reserve every path's worst case (src/engine/admission.ts),
 * and a goal without outlines is not a fork.
 * Limits: critical-path tokens (`maxTokens`), total tokens, context, wall clock; reaching one ends
 * the whole request cleanly with finishReason 'length'.
 */
import { GenerationError } from '../engine/errors.js';
import type { ResolvedOptions } from '../engine/generate-options.js';
import { FORCED_TOKENS_SLACK, type RequestContext } from '../engine/request-context.js';
import { Rng } from '../engine/rng.js';
import { sampleToken, scoreToken, type SampledToken } from '../engine/sampler.js';
import type { Sequence } from '../engine/sequence.js';
import { StopMatcher } from '../engine/stop.js';
import { StreamingDetokenizer } from '../model/detokenizer.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { DoneEvent, FinishLimit, FinishReason, GenerationEvent, PathInfo } from './events.js';
import { parseOutlines, type Outline } from './outline.js';
import { TagScanner, type TagMode } from './tag-scanner.js';
import { encodeOpener } from './template.js';

export interface SchedulerContext {
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
}

/** Where a sequence's decoding stopped: the sequence (a merge replaces the parent) and its last logits. */
interface Ended {
  seq: Sequence;
  logits: Float32Array;
  truncated: boolean;
}

export class MultiverseRun {
  private finish?: { reason: FinishReason; limit?: FinishLimit };
  private stoppedByString = false;
  /** Position where this run's critical path starts (the end of its prompt). */
  private promptLength = 0;
  /** Tokens this run produced over all of its branches (a session runs one per user branch). */
  private produced = 0;
  private readonly deadline: number;
  /** Stop strings apply to the root's sequential text, which is one stream across merges. */
  private readonly stops: StopMatcher;
  private readonly rootDetok: StreamingDetokenizer;

  constructor(private readonly ctx: SchedulerContext) {
    this.deadline = Date.now() + ctx.options.timeoutMs;
    this.stops = new StopMatcher(ctx.options.stop);
    this.rootDetok = new StreamingDetokenizer(ctx.tokenizer);
  }

  /** Runs the request to its end: the done event, or undefined when cancelled. */
  async run(prompt: number[]): Promise<DoneEvent | undefined> {
    const root = this.ctx.request.createSequence('0', Rng.fromSeed(this.ctx.options.seed));
    const logits = await root.feed(prompt, 'last');
    const { done } = await this.continueFrom(root, logits);
    return this.ctx.cancelled() ? undefined : done;
  }

  /**
   * Decodes from an existing sequence (a user's branch) as a sequential stream of its own: its
   * budget counts from where it stands, stop strings apply to it, it may fork. Resolves with its
   * done event (branch = the sequence's path; tokenIds = what it added) and the sequence it ended
   * on: `start` itself, or the merge that replaced it when it forked (whose KV holds the paths).
   */
  async continueFrom(start: Sequence, logits: Float32Array): Promise<{ done: DoneEvent; end: Sequence }> {
    const { request, options } = this.ctx;
    this.promptLength = start.nextPos;
    const startLength = start.history.length;
    const startText = start.text.length;
    const { seq } = await this.decode(start, logits, 0, this.rootDetok);
    const finish = this.finish ?? { reason: 'length' };
    // Held-back text is released, unless a stop string matched: everything from it on is dropped.
    const tail = this.stoppedByString ? '' : this.stops.push(this.rootDetok.flush()).emit + this.stops.flush();
    seq.text.push(tail);
    const critical = seq.nextPos - this.promptLength;
    const generated = this.produced;
    const done: DoneEvent = {
      type: 'done',
      branch: start.branch,
      tokenIds: seq.history.toArray().slice(startLength),
      text: seq.text.toArray().slice(startText).join(''),
      tail,
      finishReason: finish.reason,
      ...(finish.limit ? { limit: finish.limit } : {}),
      usage: { promptTokens: startLength, completionTokens: generated, totalTokens: startLength + generated, criticalPathTokens: critical },
      stats: request.stats(critical),
      seed: options.seed,
    };
    return { done, end: seq };
  }

  /**
   * Decodes `seq` from `logits` until its path closes (for a path: depth > 0) or the request
   * finishes, forking at every goal that qualifies.
   */
  private async decode(seq: Sequence, logits: Float32Array, depth: number, detok: StreamingDetokenizer): Promise<Ended> {
    const { options, tokenizer } = this.ctx;
    const inPath = depth > 0;
    const scanner = new TagScanner(this.ctx.tags);
    let goal: number[] | undefined;
    for (let generated = 0; ; generated++) {
      if (this.finish || this.ctx.cancelled()) return { seq, logits, truncated: inPath };
      if (inPath && this.ctx.branchCancelled(seq.branch)) return this.closePath(seq, logits, detok);
      this.checkLimits(seq);
      if (this.finish) return { seq, logits, truncated: inPath };

      const picked = this.pick(seq, logits, generated);
      if (options.stopTokenIds.has(picked.token)) {
        // An end-of-sequence inside a path ends that path (closed, marked truncated), not the request.
        if (inPath) return this.closePath(seq, logits, detok);
        this.finish = { reason: 'stop' };
        return { seq, logits, truncated: false };
      }
      let text = detok.push(picked.token);
      if (!inPath) {
        const { emit, stopped } = this.stops.push(text);
        text = emit;
        if (stopped) {
          this.stoppedByString = true;
          this.finish = { reason: 'stop' };
        }
      }
      this.emitToken(seq, picked, seq.nextPos, text, false);
      const tags = scanner.push(picked.token);
      if (tags.includes('<Goal>')) goal = [];
      if (goal) goal.push(picked.token);
      // The token just emitted takes seq.nextPos; if the one after it would break a limit, this
      // token's KV is never needed: end here without a step.
      if (!this.finish) this.checkLimits(seq, 1);
      if (this.finish) {
        seq.defer(picked.token);
        return { seq, logits, truncated: inPath };
      }
      logits = await seq.feed([picked.token]);
      // A path ends with its closing tag's KV computed in the path itself.
      if (inPath && tags.includes('</Path>')) return { seq, logits, truncated: false };
      if (goal && tags.includes('</Goal>')) {
        const goalText = tokenizer.decode(goal);
        const outlines = parseOutlines(goalText);
        goal = undefined;
        const paths = await this.admit(seq, outlines, depth);
        if (paths) ({ seq, logits } = await this.fork(seq, logits, paths, outlines.length - paths.length, depth, goalText, detok));
      }
    }
  }

  /**
   * The outlines that get a path, or undefined when the goal is to be written sequentially. Waits
   * for the KV of the paths' worst case when running requests hold it (see engine/admission.ts).
   */
  private async admit(seq: Sequence, outlines: Outline[], depth: number): Promise<Outline[] | undefined> {
    const { options, request, contextLength } = this.ctx;
    const m = options.multiverse;
    if (!m.enabled || outlines.length === 0) return undefined;
    const paths = outlines.slice(0, m.maxPathsPerFork);
    const remaining = Math.min(options.maxTokens - (seq.nextPos - this.promptLength), contextLength - seq.nextPos);
    if (paths.length === 0 || depth >= m.maxDepth || remaining < m.forkMargin || !(await request.claimOrWait(this.forkSlots(paths.length, remaining)))) {
      request.refuseFork();
      return undefined;
    }
    return paths;
  }

  /**
   * KV a fork of `paths` paths may add beyond the critical path the request reserved: every path
   * but the longest may run to the remaining budget (capped by maxTotalTokens), plus each path's
   * forced tokens. All paths are reserved or none.
   */
  private forkSlots(paths: number, remaining: number): number {
    const totalLeft = Math.max(0, this.ctx.options.maxTotalTokens - this.produced);
    return Math.min((paths - 1) * remaining, totalLeft) + paths * FORCED_TOKENS_SLACK;
  }

  /** Forks one path per outline, decodes them together, merges them and forces the conclusion opener. */
  private async fork(
    parent: Sequence,
    parentLogits: Float32Array,
    outlines: Outline[],
    dropped: number,
    depth: number,
    goal: string,
    detok: StreamingDetokenizer,
  ): Promise<{ seq: Sequence; logits: Float32Array }> {
    const { options, tokenizer, tags, emit } = this.ctx;
    const children = parent.fork(outlines.length);
    const infos: PathInfo[] = children.map((c, i) => ({ branch: c.branch, label: outlines[i].label, outline: outlines[i].text }));
    emit({ type: 'fork', branch: parent.branch, goal, paths: infos, dropped });
    const ended = await Promise.all(
      children.map(async (child, i) => {
        const opener = encodeOpener(options.multiverse.pathOpener.replace('{label}', outlines[i].label), '<Path>', child.nextPos, tokenizer, tags);
        const pathDetok = new StreamingDetokenizer(tokenizer);
        const logits = await this.force(child, opener.tokens, opener.positions, parentLogits, pathDetok);
        return this.decode(child, logits, depth + 1, pathDetok);
      }),
    );
    if (this.ctx.cancelled()) return { seq: parent, logits: parentLogits };
    // A path that ended the request deferred its last token; the merged KV must hold it too.
    if (this.finish) await Promise.all(ended.map((e) => e.seq.settle()));
    const merged = parent.merge(ended.map((e) => e.seq));
    for (const s of new Set([parent, ...children, ...ended.map((e) => e.seq)])) s.release();
    const before = parent.history.length;
    emit({
      type: 'join',
      branch: parent.branch,
      paths: infos.map((info, i) => ({ ...info, tokens: ended[i].seq.history.length - before, truncated: ended[i].truncated })),
    });
    // In the merged context the conclusion follows the last path's `</Path>`, so those logits score its first token.
    const last = ended[ended.length - 1].logits;
    if (this.finish) return { seq: merged, logits: last };
    const opener = encodeOpener(options.multiverse.conclusionOpener, '<Conclusion>', merged.nextPos, tokenizer, tags);
    return { seq: merged, logits: await this.force(merged, opener.tokens, opener.positions, last, detok) };
  }

  /** A path ended early (let go by its subscriber, or an end-of-sequence): close it with a forced `</Path>` so the transcript stays well formed. */
  private async closePath(seq: Sequence, logits: Float32Array, detok: StreamingDetokenizer): Promise<Ended> {
    const close = this.ctx.tokenizer.encode('</Path>', { addSpecialTokens: false });
    const after = await this.force(seq, close, close.map((_, i) => seq.nextPos + i), logits, detok);
    return { seq, logits: after, truncated: true };
  }

  /**
   * Steps forced tokens (an opener) and emits them, scored by the logits before each: `before` for
   * the first, the opener's own rows for the rest. Resolves with the logits after the last.
   */
  private async force(seq: Sequence, tokens: number[], positions: number[], before: Float32Array, detok: StreamingDetokenizer): Promise<Float32Array> {
    const vocab = this.ctx.vocabSize;
    const rows = await seq.feed(tokens, 'all', positions);
    tokens.forEach((token, i) => {
      const prev = i === 0 ? before : rows.subarray((i - 1) * vocab, i * vocab);
      this.emitToken(seq, scoreToken(prev, token, this.ctx.options.sampling.topLogprobs), positions[i], detok.push(token), true);
    });
    return rows.subarray((tokens.length - 1) * vocab);
  }

  private pick(seq: Sequence, logits: Float32Array, generated: number): SampledToken {
    const { options } = this.ctx;
    const forced = options.pickToken?.({ branch: seq.branch, logits, generated });
    if (forced !== undefined) {
      if (!Number.isInteger(forced) || forced < 0 || forced >= this.ctx.vocabSize) {
        throw new GenerationError('INVALID_REQUEST', `pickToken returned ${forced}, not a token id of this model`);
      }
      return scoreToken(logits, forced, options.sampling.topLogprobs);
    }
    const history = options.sampling.repetitionPenalty === 1 ? [] : seq.history.toArray();
    return sampleToken(logits, options.sampling, seq.rng, history);
  }

  private emitToken(seq: Sequence, t: SampledToken, position: number, text: string, forced: boolean): void {
    this.ctx.request.countToken();
    this.produced++;
    seq.text.push(text);
    this.ctx.emit({
      type: 'token',
      branch: seq.branch,
      tokenId: t.token,
      position,
      text,
      logprob: t.logprob,
      ...(t.topLogprobs ? { topLogprobs: t.topLogprobs } : {}),
      ...(forced ? { forced: true as const } : {}),
    });
  }

  /** Ends the request when the next token (after `pending` not yet stepped) would break a limit. */
  private checkLimits(seq: Sequence, pending = 0): void {
    const { options, contextLength } = this.ctx;
    const next = seq.nextPos + pending;
    const limit: FinishLimit | undefined =
      next - this.promptLength >= options.maxTokens
        ? 'maxTokens'
        : next >= contextLength
          ? 'context'
          : this.produced >= options.maxTotalTokens
            ? 'maxTotalTokens'
            : Date.now() > this.deadline
              ? 'timeout'
              : undefined;
    if (limit) this.finish = { reason: 'length', limit };
  }
}
