/**
 * One call of an OpenAI-compatible chat endpoint: `POST {endpoint}/chat/completions` with
 * temperature 0, retried with exponential backoff when the endpoint is busy or flaky:
 * 429 (waiting what Retry-After asks when it says), 5xx, a dropped connection, a timeout, or a
 * 200 whose body is not a chat completion. A 4xx saying the prompt is too long for the model's
 * context concerns that request alone; any other 4xx is a configuration problem (key, model name)
 * that no retry fixes. How many calls run at once is the caller's choice (run.ts keeps
 * `concurrency` traces in flight, each one call at a time).
 */
import type { ChatMessage } from '../model/tokenizer.js';
import { errorFromStatus } from '../remote/http-errors.js';
import { CurateError } from './errors.js';

export interface ChatClientOptions {
  /** The API root, `/v1` included: `https://api.openai.com/v1`, `http://127.0.0.1:8000/v1`. */
  endpoint: string;
  model: string;
  apiKey?: string;
  /** Attempts per call, the first included (default 6). */
  maxAttempts?: number;
  /** First backoff; each retry doubles it (default 1000 ms). */
  baseDelayMs?: number;
  /** Longest wait between attempts, Retry-After included (default 60 000 ms). */
  maxDelayMs?: number;
  /** Time an attempt may take (default 300 000 ms). */
  timeoutMs?: number;
}

/** A failed attempt worth retrying, with the wait the server asked for, if any. */
class Transient extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (header.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class ChatClient {
  private readonly url: string;

  constructor(private readonly options: ChatClientOptions) {
    this.url = `${options.endpoint.replace(/\/+$/, '')}/chat/completions`;
  }

  /**
   * The assistant's answer to `messages`.
   * @throws CurateError CONTEXT_OVERFLOW (the messages do not fit the model), ENDPOINT_REFUSED (any
   * other 4xx but 429) or ENDPOINT_UNAVAILABLE (retries spent).
   */
  async complete(messages: readonly ChatMessage[]): Promise<string> {
    const attempts = this.options.maxAttempts ?? 6;
    const base = this.options.baseDelayMs ?? 1000;
    const max = this.options.maxDelayMs ?? 60_000;
    let last = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        return await this.attempt(messages);
      } catch (err) {
        if (!(err instanceof Transient)) throw err;
        last = err.message;
        if (attempt + 1 < attempts) await new Promise((resolve) => setTimeout(resolve, Math.min(max, err.retryAfterMs ?? base * 2 ** attempt)));
      }
    }
    throw new CurateError('ENDPOINT_UNAVAILABLE', `${this.url}: no answer after ${attempts} attempts; last: ${last}`);
  }

  private async attempt(messages: readonly ChatMessage[]): Promise<string> {
    let res: Response;
    let body: string;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}) },
        body: JSON.stringify({ model: this.options.model, messages, temperature: 0 }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 300_000),
      });
      body = await res.text();
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new Transient(`connection failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
    }
    if (res.status === 429) throw new Transient(`HTTP 429: ${body.slice(0, 200)}`, retryAfterMs(res.headers.get('retry-after')));
    if (res.status >= 500) throw new Transient(`HTTP ${res.status}: ${body.slice(0, 200)}`);
    if (!res.ok) {
      const refusal = errorFromStatus(this.url, res.status, body);
      throw new CurateError(refusal.code === 'CONTEXT_OVERFLOW' ? 'CONTEXT_OVERFLOW' : 'ENDPOINT_REFUSED', refusal.message);
    }
    let content: unknown;
    try {
      content = (JSON.parse(body) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
    } catch {
      throw new Transient(`the body is not JSON: ${body.slice(0, 200)}`);
    }
    if (typeof content !== 'string') throw new Transient(`the body has no choices[0].message.content: ${body.slice(0, 200)}`);
    return content;
  }
}
