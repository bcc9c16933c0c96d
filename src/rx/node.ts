/**
 * The shapes of branching from user code (rx/session.ts), whatever backend runs it: a Node to
 * fork from and merge into, a running Branch, and its BranchResult.
 */
import type { Observable } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { DoneEvent, ForkEvent, JoinEvent, TokenEvent } from '../multiverse/events.js';

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
