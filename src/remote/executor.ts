/**
 * A remote OpenAI-compatible server as an executor of the Multiverse plan (src/multiverse/plan.ts;
 * docs/remote.md): the plan's decisions carried out with streamed `/v1/completions` requests
 * over text.
 *
 * A stretch is one request that stops at `</Goal>` (where the plan may fork) and, in a path, at
 * `</Path>`; servers drop the stop string, so it is written back. A fork is one request per path,
 * in parallel, each prompt the prefix plus the path's opener (servers with prefix caching compute
 * the shared prefix once); a join is the next request, whose prompt is the prefix, the paths in
 * label order and the conclusion opener. Each request's max_tokens is what is left of the
 * critical path (or of the total); halt() and cancelBranch() abort the HTTP requests concerned,
 * so the server stops them and frees what they held.
 */
import { GenerationError } from '../engine/errors.js';
import type { RequestStats } from '../engine/request-context.js';
import type { DoneEvent, FinishLimit, GenerationEvent } from '../multiverse/events.js';
import type { Cursor, Executor, RunState, StretchEnd } from '../multiverse/executor.js';
import { MultiversePlan } from '../multiverse/plan.js';
import type { CompletionsClient, WireToken } from './completions-client.js';
import { closingGoal, endingTag, goalsWithOutlines, type StructureTag } from './goals.js';
import type { RemoteRequestOptions } from './options.js';
import type { RequestSeeds } from './setup.js';
import type { RemoteSequence } from './sequence.js';
import { InFlight, streamTokens, UNKNOWN_TOKEN, type StreamEnd } from './token-stream.js';

export interface RemoteRunContext {
  client: CompletionsClient;
  request: RemoteRequestOptions;
  seeds: RequestSeeds;
  emit(event: GenerationEvent): void;
}

/** One run of the plan against a remote server: a request, or one session branch. */
export class RemoteRun {
  private readonly executor: RemoteExecutor;
  private readonly plan: MultiversePlan<RemoteSequence>;

  constructor(ctx: RemoteRunContext) {
    this.executor = new RemoteExecutor(ctx);
    this.plan = new MultiversePlan(this.executor, ctx.request.resolved, ctx.emit);
  }

  /** Decodes from `start` to the end of the run (see MultiversePlan.continueFrom). */
  continueFrom(start: RemoteSequence): Promise<{ done: DoneEvent; end: RemoteSequence }> {
    return this.plan.continueFrom(start);
  }

  /** Stops the whole run now (its requests aborted); continueFrom resolves with what was decoded. */
  halt(): void {
    this.plan.halt();
  }

  /** Ends the path at `branch` (and any nested in it) early; the join goes on with it truncated. */
  cancelBranch(branch: string): void {
    this.executor.inFlight.cancelBranch(branch);
  }
}

class RemoteExecutor implements Executor<RemoteSequence> {
  readonly contextLength = Infinity;
  readonly inFlight = new InFlight();
  /** The first response's prompt count (the usage's promptTokens). */
  promptCount?: number;
  forksRefused = 0;
  readonly mergeLatencyMs: number[] = [];
  private forks = 0;
  private merges = 0;
  private readonly forkLatencyMs: number[] = [];

  constructor(readonly ctx: RemoteRunContext) {}

  cursor(run: RunState<RemoteSequence>, inPath: boolean): Cursor<RemoteSequence> {
    return new RemoteCursor(this, run, inPath);
  }

  /** Cancellation from outside is a halt of the plan. */
  cancelled(): boolean {
    return false;
  }

  branchCancelled(branch: string): boolean {
    return this.inFlight.isCancelled(branch);
  }

  fork(seq: RemoteSequence, n: number): RemoteSequence[] {
    this.forks++;
    return seq.fork(n);
  }

  /** A server's own KV is out of sight: a fork it cannot hold fails with its 429. */
  admitFork(): Promise<boolean> {
    return Promise.resolve(true);
  }

  refuseFork(): void {
    this.forksRefused++;
  }

  /** No step cost to read here: every path is a request of its own, all sent at once (the server batches them). */
  autoLanes(): Promise<number> {
    return Promise.resolve(Infinity);
  }

  async join(parent: RemoteSequence, children: readonly RemoteSequence[], ended: readonly RemoteSequence[], run: { cancelled: boolean }) {
    // Until every path streamed: the server's prefill of the shared prefix (once, with prefix caching).
    this.forkLatencyMs.push(Math.max(...children.map((c) => (c.firstChunkAt ?? performance.now()) - c.createdAt)));
    if (run.cancelled) return undefined;
    this.merges++;
    return { seq: parent.merge(ended), pathTokens: ended.map((s) => s.nextPos - parent.nextPos) };
  }

  written(seq: RemoteSequence): { tokenIds: number[]; text: string } {
    return { tokenIds: [...seq.tokenIds], text: seq.shown };
  }

  appendText(seq: RemoteSequence, text: string): void {
    seq.shown += text;
  }

  promptTokens(): number {
    return this.promptCount ?? 0;
  }

  /** The run's own count (the plan's) is the total: nothing else shares this server connection's counts. */
  countToken(): void {}

  stats(criticalPathTokens: number, produced: number): RequestStats {
    return {
      totalTokens: produced,
      criticalPathTokens,
      parallelism: criticalPathTokens > 0 ? produced / criticalPathTokens : 1,
      // The server's prefix cache, if any, is what shares KV; we cannot see it.
      kvSlotsSaved: 0,
      forks: this.forks,
      merges: this.merges,
      forksRefused: this.forksRefused,
      forkLatencyMs: this.forkLatencyMs,
      mergeLatencyMs: this.mergeLatencyMs,
      // The remote server's own queue, if any, is invisible from here.
      queueWaitMs: 0,
    };
  }

  abortAll(): void {
    this.inFlight.abortAll();
  }
}

/** How one HTTP request ended. */
type RequestEnd =
  /** The server stopped: at a structure tag, or (tag undefined) at an end-of-sequence token. */
  | { kind: 'stop'; tag?: StructureTag }
  | { kind: 'length'; limit: FinishLimit }
  /** We let it go: the run finished or halted, or its branch was cancelled. */
  | { kind: 'aborted' };

/** The root's stream or one path: requests that continue its text. */
class RemoteCursor implements Cursor<RemoteSequence> {
  constructor(
    private readonly exec: RemoteExecutor,
    private readonly run: RunState<RemoteSequence>,
    private readonly inPath: boolean,
  ) {}

  /** One request; a goal is stopped at only when the plan may fork there (else it is written straight on). */
  async next(seq: RemoteSequence, mayFork: boolean): Promise<StretchEnd> {
    const limit = this.run.limitAt(seq);
    if (limit) {
      this.run.end(limit);
      return { kind: 'interrupted' };
    }
    const stops: StructureTag[] = [...(mayFork ? (['</Goal>'] as const) : []), ...(this.inPath ? (['</Path>'] as const) : [])];
    const from = seq.context.length;
    const end = await this.request(seq, stops);
    if (!mayFork && this.exec.ctx.request.resolved.multiverse.enabled) this.exec.forksRefused += goalsWithOutlines(seq.context.slice(from));
    if (end.kind === 'length') {
      this.run.end(end.limit);
      return { kind: 'interrupted' };
    }
    if (end.kind === 'stop' && end.tag === '</Path>') return { kind: 'pathClosed' };
    // The run may have ended meanwhile (a limit, a stop string, a halt): the plan looks.
    if (end.kind === 'aborted' || this.run.finished || this.run.cancelled()) return { kind: 'interrupted' };
    if (end.tag === '</Goal>') return { kind: 'goal', goal: closingGoal(seq.context) };
    return { kind: 'endOfSequence' };
  }

  async open(seq: RemoteSequence, text: string): Promise<void> {
    this.force(seq, text);
  }

  async close(seq: RemoteSequence): Promise<void> {
    this.force(seq, '</Path>');
  }

  /** Text arrives whole from the server: nothing is held back here. */
  flush(): string {
    return '';
  }

  /** One streamed request continuing `seq`, its tokens emitted as they come; a dropped stop tag is written back. */
  private async request(seq: RemoteSequence, stops: StructureTag[]): Promise<RequestEnd> {
    const { exec } = this;
    const budget = this.budget(seq);
    const firstOfRun = exec.promptCount === undefined;
    const isMergeContinuation = seq.origin === 'merge' && seq.requests === 0;
    seq.requests++;
    const startPos = seq.nextPos;
    const controller = exec.inFlight.start(seq.branch);
    let streamed: StreamEnd;
    try {
      const body = { prompt: seq.context, maxTokens: budget.tokens, stop: stops, seed: exec.ctx.seeds.next(seq.branch), sampling: exec.ctx.request.sampling };
      streamed = await streamTokens(exec.ctx.client, body, controller, {
        firstChunk: () => {
          seq.firstChunkAt ??= performance.now();
          if (isMergeContinuation) exec.mergeLatencyMs.push(seq.firstChunkAt - seq.createdAt);
        },
        tokens: (tokens, text) => this.emitText(seq, tokens, text),
      });
    } catch (err) {
      // A continuation that no longer fits the server's context ends the run, as the context limit does.
      if (err instanceof GenerationError && err.code === 'CONTEXT_OVERFLOW' && !firstOfRun) return { kind: 'length', limit: 'context' };
      throw err;
    } finally {
      exec.inFlight.end(controller);
    }
    const { finish, usage, held } = streamed;
    const tag = finish && finish.finishReason !== 'length' ? endingTag(stops, finish.matchedStop, seq.context) : undefined;
    if (tag) this.emitText(seq, held.length > 0 ? held : [UNKNOWN_TOKEN], tag);
    else this.emitText(seq, held, '');
    if (!finish) {
      if (streamed.aborted) return { kind: 'aborted' };
      throw new GenerationError('ENGINE_ERROR', `${exec.ctx.client.baseUrl}/completions: the stream ended without a finish reason`);
    }
    // Tokens the server generated but did not stream (a dropped stop string's, without logprobs).
    const unseen = (usage?.completionTokens ?? 0) - (seq.nextPos - startPos);
    if (unseen > 0) {
      seq.nextPos += unseen;
      this.run.countUnstreamed(unseen);
    }
    if (firstOfRun) exec.promptCount = usage?.promptTokens ?? 0;
    if (finish.finishReason === 'length') return { kind: 'length', limit: seq.nextPos - startPos >= budget.tokens ? budget.limit : 'context' };
    return { kind: 'stop', ...(tag ? { tag } : {}) };
  }

  /** Emits a chunk's tokens, its text on the last of them (the others show ''), through the stop strings at the root. */
  private emitText(seq: RemoteSequence, tokens: WireToken[], text: string): void {
    const shown = !this.inPath && text ? this.run.show(text) : text;
    const list = tokens.length === 0 && text ? [UNKNOWN_TOKEN] : tokens;
    list.forEach((t, i) => (i === list.length - 1 ? this.emitToken(seq, t, text, shown, false) : this.emitToken(seq, t, '', '', false)));
    // Parallel paths share the total budget: the one that spends it ends the run (a path at its
    // critical limit ends it through its own request's 'length').
    if (this.run.totalLeft() <= 0 && this.run.criticalLeft(seq) > 0) this.run.end('maxTotalTokens');
  }

  /** Text the plan writes for the model (an opener, a closing tag): one token event, forced. */
  private force(seq: RemoteSequence, text: string): void {
    this.emitToken(seq, UNKNOWN_TOKEN, text, text, true);
  }

  private emitToken(seq: RemoteSequence, t: WireToken, text: string, shown: string, forced: boolean): void {
    this.run.emitToken(seq, { token: t.tokenId, logprob: t.logprob, ...(t.topLogprobs ? { topLogprobs: t.topLogprobs } : {}) }, seq.nextPos, shown, forced);
    seq.push(text, shown, t.tokenId);
  }

  /** Tokens the next request on `seq` may generate, and the limit that bounds them. */
  private budget(seq: RemoteSequence): { tokens: number; limit: FinishLimit } {
    const critical = this.run.criticalLeft(seq);
    const total = this.run.totalLeft();
    return critical <= total ? { tokens: critical, limit: 'maxTokens' } : { tokens: total, limit: 'maxTotalTokens' };
  }
}
