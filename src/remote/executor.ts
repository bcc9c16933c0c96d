/**
 * The Multiverse scheduler over a remote OpenAI-compatible server (docs/multiverse.md and docs/remote.md):
 * the embedded scheduler's plan, carried out with HTTP requests over text.
 *
 * A sequence decodes with one streamed `/v1/completions` request that stops at `</Goal>`. When
 * the goal has parseable outlines it forks: one streamed request per path, in parallel, each
 * prompt the prefix plus the path's opener, stopping at `</Path>` (servers with prefix caching
 * compute the shared prefix once). When every path has ended, the merge is a continuation request
 * whose prompt is the prefix, the paths in label order and the conclusion opener. Paths may fork
 * again: the call stack is the fork stack.
 *
 * Guards and limits as in the embedded scheduler, where a text API allows: multiverse.enabled,
 * maxDepth, maxPathsPerFork, forkMargin (a goal that may not fork is not even stopped at);
 * maxTokens counts the critical path (each request's max_tokens is what is left of it),
 * maxTotalTokens every token, timeoutMs the wall clock; reaching one ends the run cleanly with
 * finishReason 'length'. halt() and cancelBranch() abort the HTTP requests concerned, so the
 * server stops them and frees what they held.
 */
import { GenerationError } from '../engine/errors.js';
import { StopMatcher } from '../engine/stop.js';
import { parseOutlines, type Outline } from '../multiverse/outline.js';
import type { DoneEvent, FinishLimit, FinishReason, GenerationEvent, PathInfo } from '../multiverse/events.js';
import type { WireToken } from './completion-chunk.js';
import type { CompletionsClient } from './completions-client.js';
import { closingGoal, endingTag, goalsWithOutlines, type StructureTag } from './goals.js';
import { InFlight } from './in-flight.js';
import type { RemoteRequestOptions } from './options.js';
import type { RequestSeeds } from './seeds.js';
import type { RemoteSequence } from './sequence.js';
import { streamTokens, UNKNOWN_TOKEN, type StreamEnd } from './token-stream.js';

export interface RemoteRunContext {
  client: CompletionsClient;
  request: RemoteRequestOptions;
  seeds: RequestSeeds;
  emit(event: GenerationEvent): void;
}

/** How one HTTP request ended. */
type RequestEnd =
  /** The server stopped: at a structure tag, or (tag undefined) at an end-of-sequence token. */
  | { kind: 'stop'; tag?: StructureTag }
  | { kind: 'length'; limit: FinishLimit }
  /** We let it go: the run finished or halted, or its branch was cancelled. */
  | { kind: 'aborted' };

export class RemoteRun {
  private finish?: { reason: FinishReason; limit?: FinishLimit };
  private halted = false;
  private stoppedByString = false;
  /** The count where this run's critical path starts. */
  private origin = 0;
  private produced = 0;
  private promptTokens?: number;
  private deadline = Infinity;
  private forks = 0;
  private merges = 0;
  private forksRefused = 0;
  private readonly forkLatencyMs: number[] = [];
  private readonly mergeLatencyMs: number[] = [];
  private readonly inFlight = new InFlight();
  /** Stop strings apply to the root's sequential text, one stream across merges. */
  private readonly stops: StopMatcher;

  constructor(private readonly ctx: RemoteRunContext) {
    this.stops = new StopMatcher(ctx.request.resolved.stop);
  }

  /** Stops the whole run now (its requests aborted); continueFrom resolves with what was decoded. */
  halt(): void {
    this.halted = true;
    this.inFlight.abortAll();
  }

  /** Ends the path at `branch` (and any nested in it) early; the merge goes on with it truncated. */
  cancelBranch(branch: string): void {
    this.inFlight.cancelBranch(branch);
  }

  /**
   * Decodes from `start` to the end of the run: its done event (tokenIds and text are what the run
   * added) and the sequence it ended on. Rejects with GenerationError when a request fails, after
   * aborting the others.
   */
  async continueFrom(start: RemoteSequence): Promise<{ done: DoneEvent; end: RemoteSequence }> {
    const { timeoutMs, seed } = this.ctx.request.resolved;
    const shownFrom = start.shown.length;
    const tokensFrom = start.tokenIds.length;
    this.origin = start.nextPos;
    this.deadline = Date.now() + timeoutMs;
    // A stalled server sends nothing to check the clock on: a timer ends the run.
    const timer = Number.isFinite(timeoutMs) ? setTimeout(() => this.end('timeout'), timeoutMs) : undefined;
    try {
      const { seq } = await this.decode(start, 0);
      const finish = this.finish ?? { reason: 'length' };
      // Held-back text is released, unless a stop string matched: everything from it on is dropped.
      const tail = this.stoppedByString ? '' : this.stops.flush();
      seq.shown += tail;
      const critical = seq.nextPos - this.origin;
      const prompt = this.promptTokens ?? 0;
      const done: DoneEvent = {
        type: 'done',
        branch: start.branch,
        tokenIds: seq.tokenIds.slice(tokensFrom),
        text: seq.shown.slice(shownFrom),
        tail,
        finishReason: finish.reason,
        ...(finish.limit ? { limit: finish.limit } : {}),
        usage: { promptTokens: prompt, completionTokens: this.produced, totalTokens: prompt + this.produced, criticalPathTokens: critical },
        stats: {
          totalTokens: this.produced,
          criticalPathTokens: critical,
          parallelism: critical > 0 ? this.produced / critical : 1,
          // The server's prefix cache, if any, is what shares KV; we cannot see it.
          kvSlotsSaved: 0,
          forks: this.forks,
          merges: this.merges,
          forksRefused: this.forksRefused,
          forkLatencyMs: this.forkLatencyMs,
          mergeLatencyMs: this.mergeLatencyMs,
          // The remote server's own queue, if any, is invisible from here.
          queueWaitMs: 0,
        },
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

  /** Decodes `seq` until its path closes (depth > 0) or the run finishes, forking at every goal that qualifies. */
  private async decode(seq: RemoteSequence, depth: number): Promise<{ seq: RemoteSequence; truncated: boolean }> {
    const inPath = depth > 0;
    for (;;) {
      if (this.finish || this.halted) return { seq, truncated: inPath };
      if (inPath && this.inFlight.isCancelled(seq.branch)) return this.closePath(seq);
      const limit = this.limitAt(seq);
      if (limit) {
        this.end(limit);
        continue;
      }
      const forkable = this.mayFork(seq, depth);
      const stops: StructureTag[] = [...(forkable ? (['</Goal>'] as const) : []), ...(inPath ? (['</Path>'] as const) : [])];
      const from = seq.context.length;
      const end = await this.request(seq, stops, inPath);
      if (!forkable && this.ctx.request.resolved.multiverse.enabled) this.forksRefused += goalsWithOutlines(seq.context.slice(from));
      if (end.kind === 'length') this.end(end.limit);
      else if (end.kind === 'stop' && end.tag === '</Path>') return { seq, truncated: false };
      // The run may have ended meanwhile (a limit, a stop string, a halt): the loop's top says how.
      else if (end.kind === 'aborted' || this.finish || this.halted) continue;
      else if (end.tag === '</Goal>') seq = await this.forkAt(seq, depth);
      // An end-of-sequence token ends a path (closed, marked truncated), or the run.
      else if (inPath) return this.closePath(seq);
      else this.finish = { reason: 'stop' };
    }
  }

  /** At a closed goal: forks when it has outlines and the guards allow; else the sequence writes on. */
  private async forkAt(seq: RemoteSequence, depth: number): Promise<RemoteSequence> {
    const m = this.ctx.request.resolved.multiverse;
    const goal = closingGoal(seq.context);
    const outlines = parseOutlines(goal);
    if (outlines.length === 0) return seq;
    const paths = outlines.slice(0, m.maxPathsPerFork);
    if (paths.length === 0 || this.criticalLeft(seq) < m.forkMargin) {
      this.forksRefused++;
      return seq;
    }
    return this.fork(seq, paths, outlines.length - paths.length, depth, goal);
  }

  /** One request per path, in parallel; then the merged sequence with the conclusion opener forced. */
  private async fork(parent: RemoteSequence, outlines: Outline[], dropped: number, depth: number, goal: string): Promise<RemoteSequence> {
    const { emit } = this.ctx;
    const m = this.ctx.request.resolved.multiverse;
    const children = parent.fork(outlines.length);
    const paths: PathInfo[] = children.map((c, i) => ({ branch: c.branch, label: outlines[i].label, outline: outlines[i].text }));
    emit({ type: 'fork', branch: parent.branch, goal, paths, dropped });
    this.forks++;
    const ended = await Promise.all(
      children.map((child, i) => {
        this.force(child, m.pathOpener.replace('{label}', outlines[i].label));
        return this.decode(child, depth + 1);
      }),
    );
    // Until every path streamed: the server's prefill of the shared prefix (once, with prefix caching).
    this.forkLatencyMs.push(Math.max(...children.map((c) => (c.firstChunkAt ?? performance.now()) - c.createdAt)));
    if (this.halted) return parent;
    const merged = parent.merge(ended.map((e) => e.seq));
    this.merges++;
    emit({
      type: 'join',
      branch: parent.branch,
      paths: paths.map((p, i) => ({ ...p, tokens: ended[i].seq.nextPos - parent.nextPos, truncated: ended[i].truncated })),
    });
    if (!this.finish) this.force(merged, m.conclusionOpener);
    return merged;
  }

  /** A path ended early (cancelled, or an end-of-sequence): close it so the transcript stays well formed. */
  private closePath(seq: RemoteSequence): { seq: RemoteSequence; truncated: boolean } {
    this.force(seq, '</Path>');
    return { seq, truncated: true };
  }

  /** One streamed request continuing `seq`, its tokens emitted as they come; a dropped stop tag is written back. */
  private async request(seq: RemoteSequence, stops: StructureTag[], inPath: boolean): Promise<RequestEnd> {
    const budget = this.budget(seq);
    const firstOfRun = this.promptTokens === undefined;
    const isMergeContinuation = seq.origin === 'merge' && seq.requests === 0;
    seq.requests++;
    const startPos = seq.nextPos;
    const controller = this.inFlight.start(seq.branch);
    let streamed: StreamEnd;
    try {
      const body = { prompt: seq.context, maxTokens: budget.tokens, stop: stops, seed: this.ctx.seeds.next(seq.branch), sampling: this.ctx.request.sampling };
      streamed = await streamTokens(this.ctx.client, body, controller, {
        firstChunk: () => {
          seq.firstChunkAt ??= performance.now();
          if (isMergeContinuation) this.mergeLatencyMs.push(seq.firstChunkAt - seq.createdAt);
        },
        tokens: (tokens, text) => this.emitText(seq, tokens, text, inPath),
      });
    } catch (err) {
      // A continuation that no longer fits the server's context ends the run, as the context limit does.
      if (err instanceof GenerationError && err.code === 'CONTEXT_OVERFLOW' && !firstOfRun) return { kind: 'length', limit: 'context' };
      throw err;
    } finally {
      this.inFlight.end(controller);
    }
    const { finish, usage, held } = streamed;
    const tag = finish && finish.finishReason !== 'length' ? endingTag(stops, finish.matchedStop, seq.context) : undefined;
    if (tag) this.emitText(seq, held.length > 0 ? held : [UNKNOWN_TOKEN], tag, inPath);
    else this.emitText(seq, held, '', inPath);
    if (!finish) {
      if (streamed.aborted) return { kind: 'aborted' };
      throw new GenerationError('ENGINE_ERROR', `${this.ctx.client.baseUrl}/completions: the stream ended without a finish reason`);
    }
    // Tokens the server generated but did not stream (a dropped stop string's, without logprobs).
    const unseen = (usage?.completionTokens ?? 0) - (seq.nextPos - startPos);
    if (unseen > 0) {
      seq.nextPos += unseen;
      this.produced += unseen;
    }
    if (firstOfRun) this.promptTokens = usage?.promptTokens ?? 0;
    if (finish.finishReason === 'length') return { kind: 'length', limit: seq.nextPos - startPos >= budget.tokens ? budget.limit : 'context' };
    return { kind: 'stop', ...(tag ? { tag } : {}) };
  }

  /** Emits a chunk's tokens, its text on the last of them (the others show ''), through the stop strings at the root. */
  private emitText(seq: RemoteSequence, tokens: WireToken[], text: string, inPath: boolean): void {
    let shown = text;
    if (!inPath && text) {
      const { emit, stopped } = this.stops.push(text);
      shown = emit;
      if (stopped) {
        this.stoppedByString = true;
        this.finish = { reason: 'stop' };
        // At the root this request is the run's only one.
        this.inFlight.abortAll();
      }
    }
    const list = tokens.length === 0 && text ? [UNKNOWN_TOKEN] : tokens;
    list.forEach((t, i) => (i === list.length - 1 ? this.emitToken(seq, t, text, shown, false) : this.emitToken(seq, t, '', '', false)));
    // Parallel paths share the total budget: the one that spends it ends the run (a path at its
    // critical limit ends it through its own request's 'length').
    if (this.produced >= this.ctx.request.resolved.maxTotalTokens && this.criticalLeft(seq) > 0) this.end('maxTotalTokens');
  }

  /** Text the scheduler writes for the model (an opener, a closing tag): one token event, forced. */
  private force(seq: RemoteSequence, text: string): void {
    this.emitToken(seq, UNKNOWN_TOKEN, text, text, true);
  }

  private emitToken(seq: RemoteSequence, t: WireToken, text: string, shown: string, forced: boolean): void {
    this.produced++;
    this.ctx.emit({
      type: 'token',
      branch: seq.branch,
      tokenId: t.tokenId,
      position: seq.nextPos,
      text: shown,
      logprob: t.logprob,
      ...(t.topLogprobs ? { topLogprobs: t.topLogprobs } : {}),
      ...(forced ? { forced: true as const } : {}),
    });
    seq.push(text, shown, t.tokenId);
  }

  /** Critical-path tokens left to `seq`. */
  private criticalLeft(seq: RemoteSequence): number {
    return this.ctx.request.resolved.maxTokens - (seq.nextPos - this.origin);
  }

  /** Tokens the next request on `seq` may generate, and the limit that bounds them. */
  private budget(seq: RemoteSequence): { tokens: number; limit: FinishLimit } {
    const critical = this.criticalLeft(seq);
    const total = this.ctx.request.resolved.maxTotalTokens - this.produced;
    return critical <= total ? { tokens: critical, limit: 'maxTokens' } : { tokens: total, limit: 'maxTotalTokens' };
  }

  /** The limit that forbids another request on `seq`, if any. */
  private limitAt(seq: RemoteSequence): FinishLimit | undefined {
    const budget = this.budget(seq);
    return budget.tokens <= 0 ? budget.limit : Date.now() > this.deadline ? 'timeout' : undefined;
  }

  private mayFork(seq: RemoteSequence, depth: number): boolean {
    const m = this.ctx.request.resolved.multiverse;
    return m.enabled && depth < m.maxDepth && this.criticalLeft(seq) >= m.forkMargin;
  }

  /**
   * Ends the run with finishReason 'length' (unless it has ended already). The shared limits abort
   * every request; a sequence's own (maxTokens, context) let parallel paths reach theirs, as paths
   * decoding in step do in the engine.
   */
  private end(limit: FinishLimit): void {
    this.finish ??= { reason: 'length', limit };
    if (limit === 'maxTotalTokens' || limit === 'timeout') this.inFlight.abortAll();
  }
}
