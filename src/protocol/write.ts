/**
 * Writing server events of protocol v1: the model's events tagged with their request id (1:1),
 * error events from anything thrown, and the merging of a run of token events of one branch into
 * one event, for clients that read slower than tokens come.
 */
import { GenerationError } from '../engine/errors.js';
import type { GenerationEvent } from '../rx/events.js';
import { ProtocolError, type RequestId, type ServerEvent, type WireErrorEvent, type WireTokenEvent, type WireTokensEvent } from './messages.js';
import { ROOT_BRANCH } from '../engine/branch-path.js';

/** The wire form of one model event of request `id`. */
export function toWire(id: RequestId, event: GenerationEvent): ServerEvent {
  return { ...event, id };
}

/** An error event: GenerationError and ProtocolError keep their codes; anything else is INTERNAL_ERROR. */
export function errorEvent(id: RequestId | null, err: unknown): WireErrorEvent {
  const code = err instanceof GenerationError || err instanceof ProtocolError ? err.code : 'INTERNAL_ERROR';
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'error', id, branch: ROOT_BRANCH, code, message };
}

/** Consecutive token events of one branch of one request (at least two) as one event. */
export function coalesceTokens(run: readonly WireTokenEvent[]): WireTokensEvent {
  const first = run[0];
  const forced = run.flatMap((t, i) => (t.forced ? [i] : []));
  return {
    type: 'token',
    id: first.id,
    branch: first.branch,
    tokenIds: run.map((t) => t.tokenId),
    positions: run.map((t) => t.position),
    logprobs: run.map((t) => t.logprob),
    text: run.map((t) => t.text).join(''),
    ...(first.topLogprobs ? { topLogprobs: run.map((t) => t.topLogprobs ?? {}) } : {}),
    ...(forced.length ? { forced } : {}),
  };
}

/** The frame's text. Non-finite numbers (a -Infinity logprob) become null, as JSON has no other form. */
export function serialize(event: ServerEvent): string {
  return JSON.stringify(event);
}
