/**
 * The one wire call of the remote backend: a streamed `POST {baseUrl}/completions` (OpenAI's
 * legacy text endpoint, which vLLM, SGLang and our own server all serve). The model name is the
 * one given, or the first that `GET {baseUrl}/models` lists (asked once).
 */
import { GenerationError } from '../engine/errors.js';
import { parseChunk, type CompletionChunk } from './completion-chunk.js';
import { errorFromStatus, networkError } from './http-errors.js';
import type { RemoteModelOptions } from './options.js';
import { sseData } from './sse.js';

/** What the client takes of remoteModel's options. */
export type CompletionsClientOptions = Pick<RemoteModelOptions, 'apiKey' | 'model' | 'fetch' | 'extraBody'>;

/** One completion request: the prompt text and the per-request fields the scheduler decides. */
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
