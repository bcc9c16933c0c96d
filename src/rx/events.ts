/**
 * The flat event stream of a generation: what UIs, the CLI's --json output and the wire protocol
 * carry. Every event names its branch path: '0' is the root sequence; forks (a later issue) add
 * child indices, as in '0/2/1'.
 */

/** Why a sequence stopped, named as the OpenAI and AI SDK streams name it. */
export type FinishReason = 'stop' | 'length';

export interface TokenEvent {
  type: 'token';
  branch: string;
  tokenId: number;
  /** Text this token completes; '' while a UTF-8 character or a possible stop string is pending. */
  text: string;
  /** The model's log-probability of the token (raw log-softmax, before sampling filters). */
  logprob: number;
  /** With `topLogprobs`: the most likely tokens at this step, `{tokenId: logprob}`. */
  topLogprobs?: Record<number, number>;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface DoneEvent {
  type: 'done';
  branch: string;
  /** Generated token ids (a stop token or the tokens of a stop string excluded). */
  tokenIds: number[];
  text: string;
  /**
   * Text released only at the end (held back for a possible stop string or an incomplete UTF-8
   * character): the token events' texts followed by `tail` make up `text`.
   */
  tail: string;
  finishReason: FinishReason;
  usage: Usage;
  /** The seed actually used, so a run can be reproduced. */
  seed: number;
}

export type GenerationEvent = TokenEvent | DoneEvent;
