/**
 * The Multiverse plan (docs/multiverse.md): decodes a request and turns the model's own plan into
 * parallel decoding, over any executor (executor.ts). When a sequence closes a goal with parseable
 * outlines, it forks one path per outline; each path starts with a forced opener and ends at
 * `</Path>`; when every path has ended, they are joined in label order, a conclusion opener is
 * forced, and the parent continues at the largest next position among them. Paths may fork
 * again: the call stack is the fork stack.
 *
 * Lanes: at most `multiverse.lanes` paths of a fork decode at once (maxPathsPerFork 'auto' asks
 * the executor how many); the others wait in label order, each starting when a running path of
 * the fork ends. A path's tokens do not depend on when it starts, so the transcript is the same.
 *
 * Guards: multiverse.enabled, maximum depth, maximum paths per fork, no fork within `forkMargin`
 * of the critical-path budget (or of the context), or when the executor cannot admit every path's
 * worst case (the embedded engine's KV, src/engine/admission.ts); a goal without outlines is not
 * a fork. Limits: critical-path tokens (`maxTokens`), total tokens, context, wall clock; reaching
 * one ends the whole run cleanly with finishReason 'length'.
 */
import type { ResolvedOptions } from '../engine/generate-options.js';
import { StopMatcher } from '../engine/stop.js';
import type { DoneEvent, FinishLimit, FinishReason, GenerationEvent, PathInfo, TokenEvent } from './events.js';
import type { Cursor, EmittedToken, Executor, PlanSequence, RunState } from './executor.js';
import { parseOutlines, type Outline } from './outline.js';

/** Where a sequence's decoding stopped (a join replaces the parent). */
interface Ended<S> {
  seq: S;
  truncated: boolean;
}

export class MultiversePlan<S extends PlanSequence> implements RunState<S> {
  private finish?: { reason: FinishReason; limit?: FinishLimit };
  private halted = false;
  private stoppedByString = false;
  /** Position where this run's critical path starts. */
  private origin = 0;
  /** Tokens this run produced over all of its branches (a session runs one plan per user branch). */
  private produced = 0;
  /** Tokens off the critical path that admitted forks reserved KV for (see forkAt). */
  private reservedBeyondCritical = 0;
  private deadline = Infinity;
  /** Stop strings apply to the root's sequential text, which is one stream across joins. */
  private readonly stops: StopMatcher;

  constructor(
    private readonly exec: Executor<S>,
    private readonly options: ResolvedOptions,
    private readonly emit: (event: GenerationEvent) => void,
  ) {
    this.stops = new StopMatcher(options.stop);
  }

  /** Stops the whole run now; continueFrom resolves with what was decoded. */
  halt(): void {
    this.halted = true;
    this.exec.abortAll();
  }

  /**
   * Decodes from `start` as a sequential stream of its own: its budget counts from where it
   * stands, stop strings apply to it, it may fork. Resolves with its done event (branch = the
   * start's; tokenIds and text = what it added) and the sequence it ended on: `start` itself, or
   * the join that replaced it when it forked. Rejects with the executor's error, after halting.
   */
  async continueFrom(start: S): Promise<{ done: DoneEvent; end: S }> {
    const { timeoutMs, seed } = this.options;
    const before = this.exec.written(start);
    this.origin = start.nextPos;
    this.deadline = Date.now() + timeoutMs;
    // A stalled backend gives nothing to check the clock on: a timer ends the run.
    const timer = Number.isFinite(timeoutMs) ? setTimeout(() => this.end('timeout'), timeoutMs) : undefined;
    try {
      const root = this.exec.cursor(this, false);
      const { seq } = await this.decode(start, 0, root);
      const finish = this.finish ?? { reason: 'length' };
      // Held-back text is released, unless a stop string matched: everything from it on is dropped.
      const tail = this.stoppedByString ? '' : this.stops.push(root.flush()).emit + this.stops.flush();
      this.exec.appendText(seq, tail);
      const after = this.exec.written(seq);
      const critical = seq.nextPos - this.origin;
      const prompt = this.exec.promptTokens(before.tokenIds.length);
      const done: DoneEvent = {
        type: 'done',
        branch: start.branch,
        tokenIds: after.tokenIds.slice(before.tokenIds.length),
        text: after.text.slice(before.text.length),
        tail,
        finishReason: finish.reason,
        ...(finish.limit ? { limit: finish.limit } : {}),
        usage: { promptTokens: prompt, completionTokens: this.produced, totalTokens: prompt + this.produced, criticalPathTokens: critical },
        stats: this.exec.stats(critical, this.produced),
        seed,
      };
      return { done, end: seq };
    } catch (err) {
      this.halt();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get finished(): boolean {
    return this.finish !== undefined;
  }

  cancelled(): boolean {
    return this.halted || this.exec.cancelled();
  }

  branchCancelled(branch: string): boolean {
    return this.exec.branchCancelled(branch);
  }

  limitAt(seq: S, pending = 0): FinishLimit | undefined {
    const next = seq.nextPos + pending;
    if (next - this.origin >= this.options.maxTokens) return 'maxTokens';
    if (next >= this.exec.contextLength) return 'context';
    if (this.produced >= this.options.maxTotalTokens) return 'maxTotalTokens';
    return Date.now() > this.deadline ? 'timeout' : undefined;
  }

  /** The shared limits stop every branch at once; a sequence's own let parallel paths reach theirs. */
  end(limit: FinishLimit): void {
    this.finish ??= { reason: 'length', limit };
    if (limit === 'maxTotalTokens' || limit === 'timeout') this.exec.abortAll();
  }

  criticalLeft(seq: S): number {
    return this.options.maxTokens - (seq.nextPos - this.origin);
  }

  totalLeft(): number {
    return this.options.maxTotalTokens - this.produced;
  }

  show(text: string): string {
    const { emit, stopped } = this.stops.push(text);
    if (stopped && !this.stoppedByString) {
      this.stoppedByString = true;
      this.finish ??= { reason: 'stop' };
      this.exec.abortAll();
    }
    return emit;
  }

  emitToken(seq: S, t: EmittedToken, position: number, text: string, forced: boolean): void {
    this.produced++;
    this.exec.countToken();
    // Built field by field, not with spreads: one object per token, the same keys in the same order.
    const event: TokenEvent = { type: 'token', branch: seq.branch, tokenId: t.token, position, text, logprob: t.logprob };
    if (t.topLogprobs) event.topLogprobs = t.topLogprobs;
    if (forced) event.forced = true;
    this.emit(event);
  }

  countUnstreamed(n: number): void {
    this.produced += n;
  }

  /** Decodes `seq` until its path closes (for a path: depth > 0) or the run finishes, forking at every goal that qualifies. */
  private async decode(seq: S, depth: number, cursor: Cursor<S>): Promise<Ended<S>> {
    const inPath = depth > 0;
    for (;;) {
      if (this.finish || this.cancelled()) return { seq, truncated: inPath };
      if (inPath && this.branchCancelled(seq.branch)) return this.closePath(seq, cursor);
      const end = await cursor.next(seq, this.mayFork(seq, depth));
      if (end.kind === 'pathClosed') return { seq, truncated: false };
      if (end.kind === 'endOfSequence') {
        // An end-of-sequence inside a path ends that path (closed, marked truncated), not the run.
        if (inPath) return this.closePath(seq, cursor);
        this.finish ??= { reason: 'stop' };
      }
      if (end.kind === 'goal') seq = await this.forkAt(seq, end.goal, depth, cursor);
    }
  }

  /** Enough budget (critical path and context) left for a fork here, within the depth guard. */
  private mayFork(seq: S, depth: number): boolean {
    const m = this.options.multiverse;
    return m.enabled && depth < m.maxDepth && this.remaining(seq) >= m.forkMargin;
  }

  private remaining(seq: S): number {
    return Math.min(this.criticalLeft(seq), this.exec.contextLength - seq.nextPos);
  }

  /** At a closed goal: forks when it has outlines and the guards allow; else the sequence writes on. */
  private async forkAt(seq: S, goal: string, depth: number, cursor: Cursor<S>): Promise<S> {
    const m = this.options.multiverse;
    const outlines = parseOutlines(goal);
    if (!m.enabled || outlines.length === 0) return seq;
    const paths = outlines.slice(0, m.maxPathsPerFork);
    // Every path but the longest may run to the remaining budget (the longest is the critical path,
    // reserved with the request). Sibling paths fork at once, and together the request never writes
    // more than maxTotalTokens: what earlier forks set aside beyond the critical path comes off what
    // this one may, else nested forks over-reserved a whole multiple of the budget (Countdown's
    // third subtree found no KV in a pool sized for the request's worst case).
    const unreserved = this.options.maxTotalTokens - this.options.maxTokens - this.reservedBeyondCritical;
    const extraTokens = Math.max(0, Math.min((paths.length - 1) * this.remaining(seq), this.totalLeft(), unreserved));
    // Counted before waiting for the KV: a sibling's fork may be decided meanwhile.
    this.reservedBeyondCritical += extraTokens;
    if (paths.length === 0 || !this.mayFork(seq, depth) || !(await this.exec.admitFork(paths.length, extraTokens))) {
      this.reservedBeyondCritical -= extraTokens;
      this.exec.refuseFork();
      return seq;
    }
    return this.fork(seq, paths, outlines.length - paths.length, depth, goal, cursor);
  }

  /** Forks one path per outline, decodes them in lanes, joins them and forces the conclusion opener. */
  private async fork(parent: S, outlines: Outline[], dropped: number, depth: number, goal: string, cursor: Cursor<S>): Promise<S> {
    const m = this.options.multiverse;
    const lanes = m.lanes === 'auto' ? await this.exec.autoLanes() : m.lanes;
    const children = this.exec.fork(parent, outlines.length);
    const infos: PathInfo[] = children.map((c, i) => ({ branch: c.branch, label: outlines[i].label, outline: outlines[i].text }));
    this.emit({ type: 'fork', branch: parent.branch, goal, paths: infos, dropped });
    const ended = await inLanes(children.length, lanes, async (i) => {
      const child = children[i];
      // A path that waited for its lane past the run's end is never opened: it joins empty.
      if (i >= lanes && (this.finish || this.cancelled())) return { seq: child, truncated: true };
      const path = this.exec.cursor(this, true);
      await path.open(child, m.pathOpener.replace('{label}', outlines[i].label), '<Path>');
      return this.decode(child, depth + 1, path);
    });
    const joined = await this.exec.join(
      parent,
      children,
      ended.map((e) => e.seq),
      { cancelled: this.cancelled(), finished: this.finished },
    );
    if (!joined) return parent;
    this.emit({
      type: 'join',
      branch: parent.branch,
      paths: infos.map((info, i) => ({ ...info, tokens: joined.pathTokens[i], truncated: ended[i].truncated })),
    });
    if (!this.finish) await cursor.open(joined.seq, m.conclusionOpener, '<Conclusion>');
    return joined.seq;
  }

  /** A path ended early (let go by its subscriber, or an end-of-sequence): close it so the transcript stays well formed. */
  private async closePath(seq: S, cursor: Cursor<S>): Promise<Ended<S>> {
    await cursor.close(seq);
    return { seq, truncated: true };
  }
}

/**
 * Runs task(0..n-1), at most `lanes` at once: the first `lanes` start together, and each task
 * that ends hands its lane to the next one in index order. Results in index order.
 */
async function inLanes<T>(n: number, lanes: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, n) }, lane));
  return results;
}
