/**
 * The seam between the Multiverse plan (plan.ts: when to fork, guards, limits, join, stats, the
 * done event) and what carries it out: the embedded engine (native-executor.ts: sequences decoded
 * token by token in the step loop) or a remote OpenAI-compatible server (src/remote/executor.ts:
 * streamed completions over text). The plan decides; an executor decodes, forks and merges.
 */
import type { RequestStats } from '../engine/request-context.js';
import type { FinishLimit } from './events.js';

/** What the plan reads of a sequence, whatever carries it. */
export interface PlanSequence {
  /** Branch path: '0' for the root, '0/1' for its second path, and so on. */
  readonly branch: string;
  /** Position the next token takes, in Multiverse layout (paths of a block share their start). */
  readonly nextPos: number;
}

/** Why a stretch of decoding stopped. */
export type StretchEnd =
  /** The model closed a goal (`goal`: the block's text, tags included); the plan decides whether it forks. */
  | { kind: 'goal'; goal: string }
  /** The model closed its path with `</Path>`, whose KV is computed in the path. */
  | { kind: 'pathClosed' }
  /** The model wrote an end-of-sequence token (not stepped). */
  | { kind: 'endOfSequence' }
  /** The run's state changed (a limit, a stop string, a cancellation): the plan looks at it. */
  | { kind: 'interrupted' };

/** A token as it is emitted: sampled, forced or streamed. */
export interface EmittedToken {
  token: number;
  logprob: number;
  topLogprobs?: Record<number, number>;
}

/** What an executor asks of the plan while it decodes. */
export interface RunState<S extends PlanSequence> {
  /** True once the run has a finish reason: stop decoding. */
  readonly finished: boolean;
  cancelled(): boolean;
  branchCancelled(branch: string): boolean;
  /** The limit that the next token of `seq` (after `pending` tokens not stepped yet) would break, if any. */
  limitAt(seq: S, pending?: number): FinishLimit | undefined;
  /** Ends the run with finishReason 'length' (the first limit reached wins). */
  end(limit: FinishLimit): void;
  criticalLeft(seq: S): number;
  totalLeft(): number;
  /** Root text through the stop strings: what may be shown now. A match finishes the run. */
  show(text: string): string;
  /** Emits a token event of `seq` and counts it. */
  emitToken(seq: S, token: EmittedToken, position: number, text: string, forced: boolean): void;
  /** Counts tokens the backend generated without streaming them. */
  countUnstreamed(n: number): void;
}

/** The decoding of one level of the fork stack (the root's stream, or one path): its own tag and text state. */
export interface Cursor<S extends PlanSequence> {
  /** Decodes `seq` until a goal closes (only stopped at when `mayFork`, where that matters), the path closes, an end-of-sequence, or an interruption. */
  next(seq: S, mayFork: boolean): Promise<StretchEnd>;
  /** Forces an opener (`<Path>` with its label, or `<Conclusion>`) at the training collator's positions. */
  open(seq: S, text: string, tag: '<Path>' | '<Conclusion>'): Promise<void>;
  /** Forces a `</Path>`: a path that ended early stays well formed. */
  close(seq: S): Promise<void>;
  /** Text held back until the end (an incomplete character). */
  flush(): string;
}

export interface Executor<S extends PlanSequence> {
  /** Positions one sequence may use (Infinity where the backend says so itself). */
  readonly contextLength: number;
  cursor(run: RunState<S>, inPath: boolean): Cursor<S>;
  /** The whole request was cancelled from outside. */
  cancelled(): boolean;
  /** The subscriber of `branch` (or of an ancestor) has gone. */
  branchCancelled(branch: string): boolean;
  /** n children of `seq`, branch `${branch}/${i}`, each continuing from it. */
  fork(seq: S, n: number): S[];
  /**
   * Whether a fork of `paths` paths may go on: the KV for `extraTokens` written beyond the critical
   * path (plus its paths' forced tokens) is reserved, waited for when need be.
   */
  admitFork(paths: number, extraTokens: number): Promise<boolean>;
  refuseFork(): void;
  /** How many paths of a fork decode at once under `maxPathsPerFork: 'auto'` (Infinity: all of them). */
  autoLanes(): Promise<number>;
  /**
   * Every path of a fork ended (`ended[i]` is where child i stands): the parent's continuation
   * with the paths in order, and each path's token count; undefined when the run was cancelled
   * (`run.cancelled`). `run.finished`: the run has ended, so deferred tokens must be settled first.
   */
  join(parent: S, children: readonly S[], ended: readonly S[], run: { cancelled: boolean; finished: boolean }): Promise<{ seq: S; pathTokens: number[] } | undefined>;
  /** Everything `seq` holds so far: token ids and the text its events showed. */
  written(seq: S): { tokenIds: number[]; text: string };
  appendText(seq: S, text: string): void;
  /** The prompt's token count for the usage (`startTokens`: tokens the run's start held). */
  promptTokens(startTokens: number): number;
  countToken(): void;
  stats(criticalPathTokens: number, produced: number): RequestStats;
  /** Stops whatever the backend is running for this run (a finish, a halt, a failure). */
  abortAll(): void;
}
