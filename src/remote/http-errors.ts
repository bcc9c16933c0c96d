/**
 * A remote server's failures as GenerationError values, so code that handles the embedded
 * engine's errors handles a server's the same way. Each fails the request it belongs to, never
 * the process.
 *
 * | server says                         | code             |
 * |-------------------------------------|------------------|
 * | 401, 403 (api key)                  | INVALID_REQUEST  |
 * | 429 (at capacity, retry later)      | OVERLOADED       |
 * | 400 naming the context length       | CONTEXT_OVERFLOW |
 * | other 4xx                           | INVALID_REQUEST  |
 * | 5xx, no answer, a broken stream     | ENGINE_ERROR     |
 *
 * Our own server names the engine's code in the body (its 429 is OVERLOADED or, for a request
 * larger than the whole pool, KV_EXHAUSTED); that code wins over the status.
 */
import { GenerationError } from '../engine/errors.js';
import { isGenerationErrorCode } from '../protocol/messages.js';

/** The parts of an OpenAI-style error body (`{ error: { message, type, code } }`) we read. */
interface ErrorDetail {
  message?: string;
  type?: string;
  code?: string;
}

/** The error of an HTTP answer that is not 2xx; `body` is its text (an OpenAI error body, or anything). */
export function errorFromStatus(url: string, status: number, body: string): GenerationError {
  const detail = parseDetail(body);
  const said = detail.message ? `: ${detail.message}` : '';
  if (status === 401 || status === 403) {
    return new GenerationError('INVALID_REQUEST', `${url} refused the request (HTTP ${status}): missing or wrong api key${said}`);
  }
  if (status === 429) {
    const code = detail.code && isGenerationErrorCode(detail.code) ? detail.code : 'OVERLOADED';
    return new GenerationError(code, `${url} is at capacity (HTTP 429)${said}`);
  }
  if (status >= 500) return new GenerationError('ENGINE_ERROR', `${url} failed (HTTP ${status})${said}`);
  if (isContextOverflow(detail)) return new GenerationError('CONTEXT_OVERFLOW', `${url}: the prompt does not fit the model's context (HTTP ${status})${said}`);
  return new GenerationError('INVALID_REQUEST', `${url} rejected the request (HTTP ${status})${said}`);
}

/** The error a server sends inside a stream that had started (`data: {"error": …}`). */
export function errorFromStream(url: string, error: unknown): GenerationError {
  const detail = readDetail(error);
  const message = `${url} failed mid-stream: ${detail.message ?? JSON.stringify(error)}`;
  // Our own server names the engine's code; others say at most "rate limited".
  if (detail.code && isGenerationErrorCode(detail.code)) return new GenerationError(detail.code, message);
  return new GenerationError(detail.type === 'rate_limit_error' ? 'OVERLOADED' : 'ENGINE_ERROR', message);
}

/** No answer at all (refused, reset, DNS) or a stream that broke off. */
export function networkError(url: string, err: unknown): GenerationError {
  const cause = (err as { cause?: { message?: string } })?.cause?.message;
  return new GenerationError('ENGINE_ERROR', `cannot reach ${url}: ${cause ?? (err as Error)?.message ?? String(err)}`);
}

function isContextOverflow(detail: ErrorDetail): boolean {
  return detail.code === 'context_length_exceeded' || /context length|context window/i.test(detail.message ?? '');
}

function parseDetail(body: string): ErrorDetail {
  try {
    const json = JSON.parse(body) as { error?: unknown };
    // OpenAI nests the detail under `error`; vLLM sends it at the top level.
    return readDetail(typeof json.error === 'object' && json.error !== null ? json.error : json);
  } catch {
    return body.trim() ? { message: body.trim().slice(0, 200) } : {};
  }
}

function readDetail(value: unknown): ErrorDetail {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
  return { message: str(v.message) ?? str(value), type: str(v.type), code: str(v.code) };
}
