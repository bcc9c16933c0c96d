/**
 * Server events of protocol v1 back into the in-process shapes: the request id dropped, a merged
 * token run expanded into one TokenEvent per token (the run's text on its last token, '' on the
 * others, as for a token whose text is still pending), and error events into error values.
 */
import { GenerationError } from '../engine/errors.js';
import type { GenerationEvent, TokenEvent } from '../rx/events.js';
import { isGenerationErrorCode, ProtocolError, type ServerEvent, type WireErrorEvent, type WireTokensEvent } from '../protocol/messages.js';

/** The model events one (non-error) server event stands for. */
export function fromWire(event: Exclude<ServerEvent, WireErrorEvent>): GenerationEvent[] {
  if (event.type === 'token' && 'tokenIds' in event) return expand(event);
  const { id: _id, ...rest } = event;
  return [rest as GenerationEvent];
}

/** GenerationError for the engine's codes (so `instanceof GenerationError` works remotely too), ProtocolError otherwise. */
export function errorFromWire(event: WireErrorEvent): GenerationError | ProtocolError {
  return isGenerationErrorCode(event.code) ? new GenerationError(event.code, event.message) : new ProtocolError(event.code, event.message, event.id);
}

function expand(run: WireTokensEvent): TokenEvent[] {
  const last = run.tokenIds.length - 1;
  return run.tokenIds.map((tokenId, i) => ({
    type: 'token',
    branch: run.branch,
    tokenId,
    position: run.positions[i],
    text: i === last ? run.text : '',
    logprob: run.logprobs[i],
    ...(run.topLogprobs ? { topLogprobs: run.topLogprobs[i] } : {}),
    ...(run.forced?.includes(i) ? { forced: true as const } : {}),
  }));
}
