/**
 * Reading client messages of protocol v1: one frame in, a typed ClientMessage out, or a
 * ProtocolError (BAD_MESSAGE, PAYLOAD_TOO_LARGE) that fails this message alone. Shapes are checked
 * here; value ranges (maxTokens >= 1, ...) are the engine's to check (INVALID_REQUEST).
 */
import { ProtocolError, type ClientMessage, type RequestId, type WireGenerateOptions } from './messages.js';
import { checkOptionShapes } from '../engine/generate-options.js';
import type { GenerateInput } from '../rx/generate.js';

/** Longest string id, so ids stay cheap to echo in every event. */
const MAX_ID_LENGTH = 256;

/**
 * @param data the frame's payload; `isBinary` as ws reports it.
 * @throws ProtocolError PAYLOAD_TOO_LARGE over `maxBytes`; BAD_MESSAGE for anything malformed
 *   (with the message's id when it had a usable one).
 */
export function parseClientMessage(data: Buffer, isBinary: boolean, maxBytes: number): ClientMessage {
  if (data.length > maxBytes) throw new ProtocolError('PAYLOAD_TOO_LARGE', `message of ${data.length} bytes exceeds the limit of ${maxBytes}`);
  if (isBinary) throw bad('binary frames are not part of protocol v1: send JSON as text');
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(msg)) throw bad('a message must be a JSON object');
  const id = msg.id;
  if (!isRequestId(id)) throw bad(`id must be a non-empty string (at most ${MAX_ID_LENGTH} characters) or a safe integer`);
  if (msg.type === 'cancel') return { type: 'cancel', id };
  if (msg.type !== 'generate') throw bad(`type must be 'generate' or 'cancel', got ${JSON.stringify(msg.type)}`, id);
  if (!isInput(msg.input)) throw bad('input must be a non-empty string, token ids, or chat messages ({role, content} strings)', id);
  if (msg.options !== undefined) checkWireOptions(msg.options, id);
  return { type: 'generate', id, input: msg.input, ...(msg.options !== undefined ? { options: msg.options as WireGenerateOptions } : {}) };
}

/** The library's own option check, with the wire's rule that functions and signals are not options. */
function checkWireOptions(options: unknown, id: RequestId): void {
  try {
    checkOptionShapes(options, { wire: true });
  } catch (e) {
    throw bad((e as TypeError).message, id);
  }
}

function isInput(v: unknown): v is GenerateInput {
  if (typeof v === 'string') return v.length > 0;
  if (!Array.isArray(v) || v.length === 0) return false;
  return v.every((t) => Number.isInteger(t)) || v.every((m) => isObject(m) && typeof m.role === 'string' && typeof m.content === 'string');
}

function isRequestId(v: unknown): v is RequestId {
  return (typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH) || Number.isSafeInteger(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(message: string, id: RequestId | null = null): ProtocolError {
  return new ProtocolError('BAD_MESSAGE', message, id);
}
