/**
 * `/v1/completions`: a raw `prompt` (a string or token ids, not through the chat template);
 * `echo` prepends the prompt; choices carry `text`; logprobs as OpenAI's legacy arrays
 * `{ tokens, token_logprobs, top_logprobs, text_offset }`. `max_tokens` defaults to 16, as there.
 */
import type { Dialect, LogprobEntry } from './openai-dialect.js';
import { badParam } from '../http/http-error.js';
import { readBoolean, readNumber, type Body } from './openai-params.js';

export const completionsDialect: Dialect = {
  source: 'completions',
  idPrefix: 'cmpl-',
  object: 'text_completion',
  topLogprobsField: 'logprobs',
  chunkObject: 'text_completion',
  defaultMaxTokens: 16,

  parse(body: Body) {
    const topLogprobs = readNumber(body, 'logprobs', { min: 0, integer: true });
    return { input: readPrompt(body.prompt), raw: true, echo: readBoolean(body, 'echo') ?? false, ...(topLogprobs !== undefined ? { topLogprobs } : {}) };
  },

  opening(index, echoText, echoLogprobs) {
    return echoText ? completionsDialect.chunkChoice(index, echoText, echoLogprobs, null) : undefined;
  },

  chunkChoice(index, text, logprobs, finishReason) {
    return { index, text, logprobs: format(logprobs), finish_reason: finishReason };
  },

  choice(index, text, logprobs, finishReason) {
    return completionsDialect.chunkChoice(index, text, logprobs, finishReason);
  },
};

function format(entries: LogprobEntry[] | null): object | null {
  if (!entries) return null;
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => (e.logprob === null ? null : Object.fromEntries(e.top.map((t) => [t.token, t.logprob])))),
    text_offset: entries.map((e) => e.offset),
  };
}

/** One prompt: a string or token ids, alone or as the single element of an array. */
function readPrompt(value: unknown): string | number[] {
  const one = Array.isArray(value) && value.length === 1 && (typeof value[0] === 'string' || Array.isArray(value[0])) ? value[0] : value;
  if (typeof one === 'string' && one !== '') return one;
  if (Array.isArray(one) && one.length > 0 && one.every((t) => Number.isInteger(t))) return one as number[];
  if (Array.isArray(one) && one.length > 1 && one.every((p) => typeof p === 'string' || Array.isArray(p))) {
    throw badParam('prompt', 'this server takes one prompt per request; use n for several completions of it');
  }
  throw badParam('prompt', 'prompt must be a non-empty string or an array of token ids');
}
