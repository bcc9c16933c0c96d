/**
 * What differs between `/v1/chat/completions` and `/v1/completions`: how the input and the
 * logprobs request are read, and how a choice is written (message/delta versus text, and the two
 * logprobs formats). The request driver (openai-handler.ts) is shared.
 */
import type { GenerateInput } from '../../rx/generate.js';
import type { FinishReason } from '../../rx/events.js';
import type { Body } from './openai-params.js';

export interface DialectInput {
  input: GenerateInput;
  /** A string input is tokenized as is, not through the chat template. */
  raw: boolean;
  /** Logprobs requested, with this many top alternatives per token; undefined when not requested. */
  topLogprobs?: number;
  /** Prepend the prompt to each choice's text (completions only). */
  echo: boolean;
}

/** One token's logprob, in a form both output formats are written from. */
export interface LogprobEntry {
  /** The token's own text. */
  token: string;
  /** null for a first prompt token, which no logits precede. */
  logprob: number | null;
  /** The most likely alternatives, most likely first. */
  top: { token: string; logprob: number }[];
  /** Characters of the choice's text (echoed prompt included) before this token's text. */
  offset: number;
}

export interface Dialect {
  readonly source: 'chat' | 'completions';
  /** Prefix of response ids ('chatcmpl-', 'cmpl-'). */
  readonly idPrefix: string;
  /** `object` of a full response and of a stream chunk. */
  readonly object: string;
  readonly chunkObject: string;
  /** The field that asks for top logprobs (`top_logprobs`, `logprobs`), named in its errors. */
  readonly topLogprobsField: string;
  /** `max_tokens` when the request leaves it out (undefined: the engine's default). */
  readonly defaultMaxTokens?: number;
  /** @throws HttpError 400 for a bad field. */
  parse(body: Body): DialectInput;
  /** A choice's first stream chunk (before any token), or undefined when it needs none. */
  opening(index: number, echoText: string, echoLogprobs: LogprobEntry[] | null): object | undefined;
  /** One choice of a stream chunk: new text and its logprobs, and the finish reason at the end. */
  chunkChoice(index: number, text: string, logprobs: LogprobEntry[] | null, finishReason: FinishReason | null): object;
  /** One choice of a full response. */
  choice(index: number, text: string, logprobs: LogprobEntry[] | null, finishReason: FinishReason): object;
}
