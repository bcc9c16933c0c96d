/**
 * One chunk of a streamed `/v1/completions` answer, read into what the remote scheduler needs:
 * the text, the tokens it carries (when logprobs were asked for), and at the end the finish
 * reason, which stop ended it (where the server says) and the usage.
 *
 * Token ids: a text API names tokens by their text. A server that names them `token_id:N`
 * (vLLM with `return_tokens_as_token_ids`) gives real ids; otherwise every id is -1.
 */
import { errorFromStream } from './http-errors.js';

export interface WireToken {
  /** The token id when the server reports it as `token_id:N`, else -1. */
  tokenId: number;
  /** The server's logprob of the token; NaN when it sent none. */
  logprob: number;
  /** The most likely alternatives `{tokenId: logprob}`, when the server names them by id. */
  topLogprobs?: Record<number, number>;
}

export interface CompletionChunk {
  text: string;
  /** One entry per token, when the server sent logprobs; undefined otherwise. */
  tokens?: WireToken[];
  /** 'stop', 'length' (or a server's own reason) on the last chunk of the choice. */
  finishReason?: string;
  /**
   * Which stop ended the choice, where the server says (vLLM `stop_reason`, SGLang
   * `matched_stop`): the stop string, or null for an end-of-sequence token. Undefined when the
   * server does not say.
   */
  matchedStop?: string | null;
  usage?: { promptTokens: number; completionTokens: number };
}

interface LegacyLogprobs {
  tokens?: string[];
  token_logprobs?: (number | null)[];
  top_logprobs?: (Record<string, number> | null)[];
}

/**
 * @throws GenerationError for an error the server sent inside the stream.
 */
export function parseChunk(url: string, json: unknown): CompletionChunk {
  const body = (json ?? {}) as Record<string, unknown>;
  if (body.error !== undefined) throw errorFromStream(url, body.error);
  const choice = ((body.choices as unknown[] | undefined)?.[0] ?? {}) as Record<string, unknown>;
  const usage = body.usage as { prompt_tokens?: number; completion_tokens?: number } | null | undefined;
  const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined;
  return {
    text: typeof choice.text === 'string' ? choice.text : '',
    ...(choice.logprobs ? { tokens: tokensOf(choice.logprobs as LegacyLogprobs) } : {}),
    ...(finishReason ? { finishReason, ...matchedStopOf(choice) } : {}),
    ...(usage && typeof usage.completion_tokens === 'number'
      ? { usage: { promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens } }
      : {}),
  };
}

function tokensOf(logprobs: LegacyLogprobs): WireToken[] {
  return (logprobs.tokens ?? []).map((token, i) => {
    const top = logprobs.top_logprobs?.[i];
    const topById = top ? Object.entries(top).map(([t, lp]) => [idOf(t), lp] as const) : [];
    return {
      tokenId: idOf(token),
      logprob: logprobs.token_logprobs?.[i] ?? NaN,
      // Alternatives keyed by text cannot become `{tokenId: logprob}`: leave them out.
      ...(topById.length > 0 && topById.every(([id]) => id >= 0) ? { topLogprobs: Object.fromEntries(topById) } : {}),
    };
  });
}

function idOf(token: string): number {
  const m = /^token_id:(\d+)$/.exec(token);
  return m ? Number(m[1]) : -1;
}

function matchedStopOf(choice: Record<string, unknown>): Pick<CompletionChunk, 'matchedStop'> {
  for (const field of ['stop_reason', 'matched_stop']) {
    if (field in choice) return { matchedStop: typeof choice[field] === 'string' ? (choice[field] as string) : null };
  }
  return {};
}
