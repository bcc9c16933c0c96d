/**
 * HTTP errors in OpenAI's JSON shape (`{ error: { message, type, param, code } }`) with the status
 * OpenAI uses for each kind, and the mapping from GenerationError codes to them.
 */
import type { ServerResponse } from 'node:http';
import { GenerationError, type GenerationErrorCode } from '../../engine/errors.js';

export type HttpErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 429 | 500 | 503,
    readonly type: HttpErrorType,
    message: string,
    /** The request field at fault, as OpenAI reports it. */
    readonly param: string | null = null,
    /** A machine-readable code (OpenAI's, or our GenerationError code). */
    readonly code: string | null = null,
  ) {
    super(message);
  }

  /** The JSON body OpenAI clients parse into their APIError. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a request field that is missing or wrong. */
export function badParam(param: string, message: string): HttpError {
  return new HttpError(400, 'invalid_request_error', message, param, 'invalid_value');
}

const BY_GENERATION_CODE: Record<GenerationErrorCode, [HttpError['status'], HttpErrorType]> = {
  INVALID_REQUEST: [400, 'invalid_request_error'],
  CONTEXT_OVERFLOW: [400, 'invalid_request_error'],
  // More KV than the pool holds: this request cannot run here.
  KV_EXHAUSTED: [429, 'rate_limit_error'],
  // The pool is taken and the admission queue is full: try again later (with Retry-After).
  OVERLOADED: [429, 'rate_limit_error'],
  CANCELLED: [500, 'server_error'],
  MODEL_DISPOSED: [503, 'server_error'],
  ENGINE_ERROR: [500, 'server_error'],
};

/** Any thrown value as an HttpError; anything else is a 500 (a bug of ours, not of the request). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof GenerationError) {
    const [status, type] = BY_GENERATION_CODE[err.code];
    return new HttpError(status, type, err.message, null, err.code === 'CONTEXT_OVERFLOW' ? 'context_length_exceeded' : err.code);
  }
  return new HttpError(500, 'server_error', `internal server error: ${(err as Error)?.message ?? String(err)}`, null, 'INTERNAL_ERROR');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** Seconds a refused client is asked to wait (Retry-After) when the admission queue is full or the server is shutting down. */
export const RETRY_AFTER_S = 1;

export function sendError(res: ServerResponse, err: unknown): void {
  const e = toHttpError(err);
  if (e.code === 'OVERLOADED' || e.code === 'SHUTTING_DOWN') res.setHeader('retry-after', String(RETRY_AFTER_S));
  sendJson(res, e.status, e);
}
