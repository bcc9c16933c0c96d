/**
 * Reads a JSON request body with a size limit: the body stops being read at the limit (413), so a
 * huge upload costs the server nothing past it.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

/**
 * @throws HttpError 413 when the body exceeds `maxBytes`; 400 when it is not JSON or not an object.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_request_error', 'the request body is not valid JSON', null, 'invalid_json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_request_error', 'the request body must be a JSON object', null, 'invalid_json');
  }
  return body as Record<string, unknown>;
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'invalid_request_error', `the request body is larger than ${maxBytes} bytes`, null, 'payload_too_large');
}
