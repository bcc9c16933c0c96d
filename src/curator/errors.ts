/**
 * Failures of a curation run. All but CONTEXT_OVERFLOW stop the whole run (a single trace that
 * cannot be converted is rejected and reported instead); what was written stays valid, and
 * `--resume` continues from it.
 *
 * | code                 | when                                                                 |
 * |----------------------|----------------------------------------------------------------------|
 * | ENDPOINT_REFUSED     | the endpoint answered 4xx other than 429 (api key, model name, body) |
 * | CONTEXT_OVERFLOW     | a request does not fit the model's context: rejects that trace alone  |
 * | ENDPOINT_UNAVAILABLE | 429, 5xx, dropped connections or bad bodies outlasted every retry    |
 * | PROMPT_ERROR         | a prompt file is missing or has no `version:` line                   |
 * | OUTPUT_ERROR         | --out exists without --resume, or holds a line that is not a record  |
 * | TOKENIZER_ERROR      | the tokenizer lacks the Multiverse tags as added tokens              |
 */
export type CurateErrorCode = 'ENDPOINT_REFUSED' | 'CONTEXT_OVERFLOW' | 'ENDPOINT_UNAVAILABLE' | 'PROMPT_ERROR' | 'OUTPUT_ERROR' | 'TOKENIZER_ERROR';

export class CurateError extends Error {
  override readonly name = 'CurateError';
  constructor(
    readonly code: CurateErrorCode,
    message: string,
  ) {
    super(message);
  }
}
