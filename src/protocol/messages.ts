/**
 * WebSocket protocol v1 (docs/protocol.md): the message and event shapes both ends share, and the
 * stable error codes. Types and constants only, no Node imports, so a browser bundle can use it.
 */
import type { GenerateOptions } from '../engine/generate-options.js';
import type { GenerationErrorCode } from '../engine/errors.js';
import type { GenerateInput } from '../rx/generate.js';
import type { DoneEvent, ForkEvent, JoinEvent, TokenEvent } from '../rx/events.js';

export const PROTOCOL_VERSION = 1;

/** A request id: chosen by the client, unique among its connection's running requests. */
export type RequestId = string | number;

/** Generation options that travel as JSON: all of GenerateOptions but the pickToken hook and the abort signal. */
export type WireGenerateOptions = Omit<GenerateOptions, 'pickToken' | 'signal'>;

export interface GenerateMessage {
  type: 'generate';
  id: RequestId;
  input: GenerateInput;
  options?: WireGenerateOptions;
}

export interface CancelMessage {
  type: 'cancel';
  id: RequestId;
}

export type ClientMessage = GenerateMessage | CancelMessage;

/** Codes of errors the protocol itself raises (GenerationError codes travel too). */
export type ProtocolErrorCode =
  /** The frame is not JSON, not text, or not a well-formed message (message says which). */
  | 'BAD_MESSAGE'
  /** A generate reused the id of a request still running on this connection. */
  | 'DUPLICATE_ID'
  /** A cancel named no running request. */
  | 'UNKNOWN_ID'
  /** The connection already runs its limit of concurrent requests. */
  | 'TOO_MANY_REQUESTS'
  /** The message is larger than the server's maxMessageBytes. */
  | 'PAYLOAD_TOO_LARGE'
  /** The server failed in a way that is not the request's fault. */
  | 'INTERNAL_ERROR'
  /** The server is shutting down: the request was refused, or did not finish within the drain timeout. */
  | 'SHUTTING_DOWN'
  /** Client side only: the connection closed while the request ran. */
  | 'CONNECTION_CLOSED'
  /** Client side only: the server refused the connection (401: missing or wrong api key). */
  | 'UNAUTHORIZED';

export type WireErrorCode = ProtocolErrorCode | GenerationErrorCode;

/** Every GenerationError code: a Record, so the compiler flags a code added there and missing here. */
const GENERATION_ERROR_CODES: Record<GenerationErrorCode, true> = {
  CONTEXT_OVERFLOW: true,
  KV_EXHAUSTED: true,
  OVERLOADED: true,
  INVALID_REQUEST: true,
  CANCELLED: true,
  MODEL_DISPOSED: true,
  ENGINE_ERROR: true,
};

/** Tells GenerationError codes from protocol codes at run time (a client rebuilds the right error class). */
export function isGenerationErrorCode(code: string): code is GenerationErrorCode {
  return Object.hasOwn(GENERATION_ERROR_CODES, code);
}

/** One token, exactly the model's TokenEvent. */
export type WireTokenEvent = TokenEvent & { id: RequestId };

/**
 * Several consecutive tokens of one branch, sent to a client that reads slower than tokens come:
 * arrays in token order, `text` their texts concatenated.
 */
export interface WireTokensEvent {
  type: 'token';
  id: RequestId;
  branch: string;
  tokenIds: number[];
  positions: number[];
  logprobs: number[];
  text: string;
  /** With `topLogprobs`: one record per token. */
  topLogprobs?: Record<number, number>[];
  /** Indices (into tokenIds) of tokens the engine forced. */
  forced?: number[];
}

export type WireForkEvent = ForkEvent & { id: RequestId };
export type WireJoinEvent = JoinEvent & { id: RequestId };
export type WireDoneEvent = DoneEvent & { id: RequestId };

export interface WireErrorEvent {
  type: 'error';
  /** null when the message it answers had no usable id. */
  id: RequestId | null;
  /** The request's root path '0' (errors end a whole request). */
  branch: string;
  code: WireErrorCode;
  message: string;
}

export type ServerEvent = WireTokenEvent | WireTokensEvent | WireForkEvent | WireJoinEvent | WireDoneEvent | WireErrorEvent;

/** An error with a protocol code: raised by the server for a bad message, or by the client. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    /** The request the error belongs to, when known. */
    readonly id: RequestId | null = null,
  ) {
    super(message);
  }
}
