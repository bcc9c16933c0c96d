/**
 * `/v1/chat/completions`: `messages` through the model's chat template; choices carry a `message`
 * (a `delta` when streamed); logprobs as `{ content: [{ token, logprob, bytes, top_logprobs }] }`.
 */
import type { ChatMessage } from '../../model/tokenizer.js';
import type { Dialect, LogprobEntry } from './openai-dialect.js';
import { badParam } from '../http/http-error.js';
import { bytesOf } from './openai-logprobs.js';
import { readBoolean, readNumber, type Body } from './openai-params.js';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

export const chatDialect: Dialect = {
  source: 'chat',
  idPrefix: 'chatcmpl-',
  object: 'chat.completion',
  topLogprobsField: 'top_logprobs',
  chunkObject: 'chat.completion.chunk',

  parse(body: Body) {
    const logprobs = readBoolean(body, 'logprobs') ?? false;
    const top = readNumber(body, 'top_logprobs', { min: 0, integer: true });
    if (top !== undefined && !logprobs) throw badParam('top_logprobs', 'top_logprobs needs logprobs: true');
    return { input: readMessages(body.messages), raw: false, echo: false, ...(logprobs ? { topLogprobs: top ?? 0 } : {}) };
  },

  opening(index) {
    return { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null };
  },

  chunkChoice(index, text, logprobs, finishReason) {
    return { index, delta: text ? { content: text } : {}, logprobs: format(logprobs), finish_reason: finishReason };
  },

  choice(index, text, logprobs, finishReason) {
    return { index, message: { role: 'assistant', content: text, refusal: null }, logprobs: format(logprobs), finish_reason: finishReason };
  },
};

function format(entries: LogprobEntry[] | null): object | null {
  if (!entries) return null;
  return {
    content: entries.map((e) => ({
      token: e.token,
      logprob: e.logprob,
      bytes: bytesOf(e.token),
      top_logprobs: e.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytesOf(t.token) })),
    })),
  };
}

/** Messages with string content, or content parts of type text (joined). 'developer' is a system message. */
function readMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw badParam('messages', 'messages must be a non-empty array');
  return value.map((m, i) => {
    const field = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || !ROLES.has(m.role)) throw badParam(`${field}.role`, `${field}.role must be one of ${[...ROLES].join(', ')}`);
    return { role: m.role === 'developer' ? 'system' : m.role, content: readContent(m.content, `${field}.content`) };
  });
}

function readContent(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content) && content.every((p) => p?.type === 'text' && typeof p.text === 'string')) {
    return content.map((p) => p.text as string).join('');
  }
  throw badParam(field, `${field} must be a string or an array of text parts`);
}
