/**
 * Logprob entries from the engine's token events and scores, keyed by token text as OpenAI
 * reports them.
 */
import type { Tokenizer } from '../../model/tokenizer.js';
import type { LogprobEntry } from './openai-dialect.js';

/** The entry of `tokenId`; `top` is the engine's `{tokenId: logprob}` record. */
export function logprobEntry(tokenizer: Tokenizer, tokenId: number, logprob: number | undefined, top: Record<number, number> | undefined, offset: number): LogprobEntry {
  return {
    token: tokenizer.idToText(tokenId),
    logprob: logprob ?? null,
    top: Object.entries(top ?? {})
      .map(([id, lp]) => ({ token: tokenizer.idToText(Number(id)), logprob: lp }))
      .sort((a, b) => b.logprob - a.logprob),
    offset,
  };
}

/** UTF-8 bytes of a token's text, for the chat format's `bytes` fields. */
export function bytesOf(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}
