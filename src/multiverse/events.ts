/**
 * The flat event stream of a generation: what UIs, the CLI's --json output and the wire protocol
 * carry. Every event names its branch path: '0' is the root sequence, '0/1' its second path,
 * '0/1/0' the first path of a block nested in that one. After a merge the continuation is again
 * its parent's path.
 */
import type { RequestStats } from '../engine/request-context.js';

/** Why a request stopped, named as the OpenAI and AI SDK streams name it. */
export type FinishReason = 'stop' | 'length';

/** Which limit ended a request that finished with 'length'. */
export type FinishLimit = 'maxTokens' | 'maxTotalTokens' | 'context' | 'timeout';

export interface TokenEvent {
  type: 'token';
  branch: string;
  tokenId: number;
  /** Position id the token took (paths of one block start at the same position). */
  position: number;
  /** Text this token completes; '' while a UTF-8 character or a possible stop string is pending. */
  text: string;
  /** The model's log-probability of the token (raw log-softmax, before sampling filters). */
  logprob: number;
  /** With `topLogprobs`: the most likely tokens at this step, `{tokenId: logprob}`. */
  topLogprobs?: Record<number, number>;
  /** Written by the engine (a path or conclusion opener), not sampled. */
  forced?: true;
}

/** One path of a fork. */
export interface PathInfo {
  branch: string;
  label: string;
  outline: string;
}

/** The model closed a goal with parseable outlines and the engine forked one path per outline. */
export interface ForkEvent {
  type: 'fork';
  /** The sequence that forked. */
  branch: string;
  /** The goal block's text, tags included. */
  goal: string;
  paths: PathInfo[];
  /** Outlines beyond maxPathsPerFork that got no path. */
  dropped: number;
}

/** Every path of a fork ended; their KV was merged and the parent continues. */
export interface JoinEvent {
  type: 'join';
  branch: string;
  paths: (PathInfo & { tokens: number; truncated: boolean })[];
}

export interface Usage {
  promptTokens: number;
  /** Tokens generated over all branches. */
  completionTokens: number;
  totalTokens: number;
  /** Tokens on the critical path (the sequential length): what `maxTokens` limits. */
  criticalPathTokens: number;
}

export interface DoneEvent {
  type: 'done';
  branch: string;
  /** The generated transcript (paths in label order, as merged), a stop token excluded. */
  tokenIds: number[];
  text: string;
  /**
   * Text released only at the end (held back for a possible stop string or an incomplete UTF-8
   * character): the token events' texts in merge order (the order of tokenIds), then `tail`, make
   * up `text`.
   */
  tail: string;
  finishReason: FinishReason;
  /** With finishReason 'length': which limit. */
  limit?: FinishLimit;
  usage: Usage;
  stats: RequestStats;
  /** The seed actually used, so a run can be reproduced. */
  seed: number;
}

/** Errors as events, for streams that cannot carry an error notification (the wire). */
export interface ErrorEvent {
  type: 'error';
  branch: string;
  code: string;
  message: string;
}

export type GenerationEvent = TokenEvent | ForkEvent | JoinEvent | DoneEvent;
