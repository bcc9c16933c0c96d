/**
 * The one wire call of the remote backend: a streamed `POST {baseUrl}/completions` (OpenAI's
 * legacy text endpoint, which vLLM, SGLang and our own server all serve). The model name is the
 * one given, or the first that `GET {baseUrl}/models` lists (asked once).
 *
 * The answer is read as server-sent events (the `data:` payload of each, until `data: [DONE]`;
 * comments and other fields skipped; a payload split over several `data:` lines joined with
 * newlines, as the SSE spec says), each one chunk of the completion: its text, the tokens it
 * carries (when logprobs were asked for), and at the end the finish reason, which stop ended it
 * (where the server says) and the usage. Token ids: a text API names tokens by their text; a
 * server that names them `token_id:N` (vLLM with `return_tokens_as_token_ids`) gives real ids,
 * otherwise every id is -1.
 */
import { GenerationError } from '../engine/errors.js';
import { errorFromStatus, errorFromStream, networkError } from './http-errors.js';
import type { RemoteModelOptions } from './options.js';

/** What the client takes of remoteModel's options. */
export type CompletionsClientOptions = Pick<RemoteModelOptions, 'apiKey' | 'model' | 'fetch' | 'extraBody'>;

/** One completion request: the prompt text and the per-request fields the plan decides. */
export interface CompletionRequest {
  prompt: string;
  maxTokens: number;
  stop: string[];
  seed: number;
  /** Sampling fields of the body (temperature, top_p, logprobs, …), already in wire names. */
  sampling: Record<string, unknown>;
}

export class CompletionsClient {
  private modelName?: Promise<string>;
  private readonly fetch: typeof fetch;

  constructor(
    /** The API root, `/v1` included: `http://127.0.0.1:8000/v1`. */
    readonly baseUrl: string,
    private readonly options: CompletionsClientOptions = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Streams one completion's chunks. When `signal` aborts, the stream just ends (the HTTP request
   * is aborted, so the server stops and frees what it held).
   * @throws GenerationError (see http-errors.ts for the codes).
   */
  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncGenerator<CompletionChunk> {
    const url = `${this.baseUrl}/completions`;
    try {
      const model = await this.model(signal);
      const res = await this.fetch(url, {
        method: 'POST',
        headers: this.headers(),
        signal,
        body: JSON.stringify({
          ...this.options.extraBody,
          model,
          prompt: request.prompt,
          max_tokens: request.maxTokens,
          seed: request.seed,
          ...(request.stop.length > 0 ? { stop: request.stop } : {}),
          ...request.sampling,
          stream: true,
          stream_options: { include_usage: true },
        }),
      });
      if (!res.ok) throw errorFromStatus(url, res.status, await res.text());
      if (!res.body) throw new GenerationError('ENGINE_ERROR', `${url} answered without a body`);
      for await (const data of sseData(res.body)) yield parseChunk(url, parseJson(url, data));
    } catch (err) {
      if (signal.aborted) return;
      throw err instanceof GenerationError ? err : networkError(url, err);
    }
  }

  /** The model name: the configured one, or the first the server lists (asked once; a failure is asked again). */
  private model(signal: AbortSignal): Promise<string> {
    if (this.options.model !== undefined) return Promise.resolve(this.options.model);
    this.modelName ??= this.listFirstModel(signal).catch((err: unknown) => {
      this.modelName = undefined;
      throw err;
    });
    return this.modelName;
  }

  private async listFirstModel(signal: AbortSignal): Promise<string> {
    const url = `${this.baseUrl}/models`;
    const res = await this.fetch(url, { headers: this.headers(), signal });
    if (!res.ok) throw errorFromStatus(url, res.status, await res.text());
    const id = ((await res.json()) as { data?: { id?: unknown }[] }).data?.[0]?.id;
    if (typeof id !== 'string') throw new GenerationError('INVALID_REQUEST', `${url} lists no model; pass remoteModel's model option`);
    return id;
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/json', ...(this.options.apiKey !== undefined ? { authorization: `Bearer ${this.options.apiKey}` } : {}) };
  }
}

function parseJson(url: string, data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new GenerationError('ENGINE_ERROR', `${url} sent a chunk that is not JSON: ${data.slice(0, 100)}`);
  }
}

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
function parseChunk(url: string, json: unknown): CompletionChunk {
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

/** The data payloads of an SSE body; stops at `[DONE]`. */
async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    // Events end with a blank line; servers may use \r\n.
    let end: RegExpExecArray | null;
    while ((end = /\r?\n\r?\n/.exec(buffer))) {
      const data = dataOf(buffer.slice(0, end.index));
      buffer = buffer.slice(end.index + end[0].length);
      if (data === '[DONE]') return;
      if (data !== undefined) yield data;
    }
  }
  const last = dataOf(buffer + decoder.decode());
  if (last !== undefined && last !== '[DONE]') yield last;
}

/** The data of one event block, or undefined when it has none. */
function dataOf(block: string): string | undefined {
  const lines = block.split(/\r?\n/).filter((l) => l.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
}
