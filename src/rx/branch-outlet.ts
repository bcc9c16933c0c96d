/**
 * One session branch as user code sees it (a Branch): its tokens and events, replayed from the
 * start, and its result once it ends. The decoding behind it (the embedded engine's run, or a
 * remote one) pushes events in and ends or fails it; letting go of every subscription to
 * `tokens$` calls `cancel`, and the result then says `truncated`.
 */
import { ReplaySubject } from 'rxjs';
import type { DoneEvent, ForkEvent, GenerationEvent, JoinEvent, TokenEvent } from '../multiverse/events.js';
import { letGoCancels } from './let-go.js';
import type { Branch, BranchResult, Node } from './node.js';

/** Where a branch stands in its fork. */
export interface BranchPlace {
  branch: string;
  index: number;
  prompt?: string;
  parent: Node;
}

export class BranchOutlet {
  readonly handle: Branch;
  private readonly tokens = new ReplaySubject<TokenEvent>();
  private readonly events = new ReplaySubject<TokenEvent | ForkEvent | JoinEvent>();
  private readonly result = new ReplaySubject<BranchResult>(1);
  private readonly logprobs: number[] = [];
  private ended = false;
  private letGo = false;

  constructor(
    private readonly place: BranchPlace,
    cancel: () => void,
  ) {
    const stop = () => {
      this.letGo = true;
      cancel();
    };
    this.handle = {
      ...place,
      tokens$: letGoCancels(this.tokens, () => this.ended, stop),
      events$: this.events.asObservable(),
      result$: this.result.asObservable(),
    };
  }

  /** A token, fork or join of the branch (a done event is the run's, not the branch's). */
  push(e: GenerationEvent): void {
    if (e.type === 'done') return;
    this.events.next(e);
    if (e.type !== 'token') return;
    this.logprobs.push(e.logprob);
    this.tokens.next(e);
  }

  /** The branch ended: its streams complete and its result (standing at `node`) is emitted. */
  end(done: Pick<DoneEvent, 'tokenIds' | 'text' | 'finishReason'>, node: Node): void {
    this.ended = true;
    this.tokens.complete();
    this.events.complete();
    const { parent: _parent, ...place } = this.place;
    this.result.next({
      ...place,
      tokenIds: done.tokenIds,
      text: done.text,
      logprobs: this.logprobs,
      meanLogprob: meanLogprob(this.logprobs),
      finishReason: done.finishReason,
      truncated: this.letGo,
      node,
    });
    this.result.complete();
  }

  /** The branch failed: every stream errors with `err`. */
  fail(err: unknown): void {
    this.ended = true;
    for (const s of [this.tokens, this.events, this.result]) s.error(err);
  }
}

/**
 * Mean of the logprobs that are known (a remote server reports none for text the scheduler
 * forced): -Infinity for an empty branch, NaN when none is known.
 */
function meanLogprob(logprobs: number[]): number {
  if (logprobs.length === 0) return -Infinity;
  const known = logprobs.filter((lp) => !Number.isNaN(lp));
  return known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : NaN;
}
