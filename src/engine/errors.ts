/**
 * Errors that fail one generation request. They travel through the Observable's error channel,
 * never out of the process, and the request's KV is released before they are delivered.
 */

/** Stable codes for scripts and the wire protocol. */
export type GenerationErrorCode =
  /** The prompt (plus the tokens it must generate) does not fit the model's context. */
  | 'CONTEXT_OVERFLOW'
  /** The request needs more KV than the whole pool holds (or, in a session, more than it planned and than is free). */
  | 'KV_EXHAUSTED'
  /** The KV pool is taken and the request could not wait: the admission queue is full, or `waitForKv: false`. Retry later. */
  | 'OVERLOADED'
  /** The input or options were invalid (message says which). */
  | 'INVALID_REQUEST'
  /** Work was asked of a sequence the request had already let go (it was cancelled). */
  | 'CANCELLED'
  /** The model was disposed while the request ran. */
  | 'MODEL_DISPOSED'
  /** The native engine failed a step (or a preempted request, run again, did not repeat what it had sent). */
  | 'ENGINE_ERROR';

export class GenerationError extends Error {
  override readonly name = 'GenerationError';
  constructor(
    readonly code: GenerationErrorCode,
    message: string,
  ) {
    super(message);
  }
}
