/**
 * Parsing of the request fields both OpenAI endpoints share (`model`, `n`, `stream`,
 * `stream_options`, `max_tokens`, `temperature`, `top_p`, `seed`, `stop`), and typed field readers
 * for the endpoint-specific ones. Every failure is a 400 naming the field; `null` counts as absent,
 * as OpenAI treats it.
 */
import type { GenerateOptions } from '../../engine/generate-options.js';
import { badParam, HttpError } from '../http/http-error.js';

export type Body = Record<string, unknown>;

export interface CommonParams {
  options: GenerateOptions;
  n: number;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk carries the usage. */
  includeUsage: boolean;
}

/** Fields OpenAI defines that this server cannot honour: a request that uses them gets a 400. */
const UNSUPPORTED: Record<string, (v: unknown) => boolean> = {
  presence_penalty: (v) => v !== 0,
  frequency_penalty: (v) => v !== 0,
  logit_bias: (v) => typeof v !== 'object' || Object.keys(v as object).length > 0,
  tools: (v) => !Array.isArray(v) || v.length > 0,
  functions: (v) => !Array.isArray(v) || v.length > 0,
  response_format: (v) => (v as { type?: unknown })?.type !== 'text',
  suffix: () => true,
};

/**
 * @param defaultMaxTokens the endpoint's default for `max_tokens` (undefined: the engine's).
 * @throws HttpError 400 for a bad field, 404 for a model this server does not serve.
 */
export function parseCommon(body: Body, modelId: string, maxChoices: number, defaultMaxTokens?: number): CommonParams {
  for (const [field, unsupported] of Object.entries(UNSUPPORTED)) {
    if (present(body, field) && unsupported(body[field])) throw badParam(field, `${field} is not supported by this server`);
  }
  const model = body.model;
  if (typeof model !== 'string') throw badParam('model', 'model must be a string');
  if (model !== modelId) throw new HttpError(404, 'not_found_error', `model '${model}' does not exist; this server serves '${modelId}'`, 'model', 'model_not_found');
  const stream = readBoolean(body, 'stream') ?? false;
  const streamOptions = body.stream_options;
  if (present(body, 'stream_options') && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) {
    throw badParam('stream_options', 'stream_options must be an object');
  }
  const includeUsage = readBoolean((streamOptions ?? {}) as Body, 'include_usage', 'stream_options.include_usage') ?? false;
  if (includeUsage && !stream) throw badParam('stream_options', 'stream_options is only allowed when stream is true');
  const maxTokens = readNumber(body, 'max_completion_tokens', { min: 1, integer: true }) ?? readNumber(body, 'max_tokens', { min: 1, integer: true }) ?? defaultMaxTokens;
  const temperature = readNumber(body, 'temperature', { min: 0, max: 2 });
  const topP = readNumber(body, 'top_p', {});
  const seed = readNumber(body, 'seed', { integer: true });
  return {
    n: readNumber(body, 'n', { min: 1, max: maxChoices, integer: true }) ?? 1,
    stream,
    includeUsage,
    options: {
      ...(maxTokens !== undefined ? { maxTokens } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(topP !== undefined ? { topP } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...readStop(body),
    },
  };
}

/**
 * The request field behind a GenerateOptions name, for errors about it (`maxTokens` is whichever
 * of `max_completion_tokens` and `max_tokens` the request used).
 */
export function fieldOf(option: string, body: Body, topLogprobsField: string): string {
  if (option === 'maxTokens') return present(body, 'max_completion_tokens') ? 'max_completion_tokens' : 'max_tokens';
  if (option === 'topLogprobs') return topLogprobsField;
  if (option === 'topP') return 'top_p';
  return option;
}

/** True when the field is there and not null. */
function present(body: Body, field: string): boolean {
  return body[field] !== undefined && body[field] !== null;
}

/** A number field within [min, max]; undefined when absent. */
export function readNumber(body: Body, field: string, rule: { min?: number; max?: number; integer?: boolean }): number | undefined {
  if (!present(body, field)) return undefined;
  const v = body[field];
  const { min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, integer = false } = rule;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v)) || v < min || v > max) {
    const range = [min > -Number.MAX_SAFE_INTEGER ? `>= ${min}` : '', max < Number.MAX_SAFE_INTEGER ? `<= ${max}` : ''].filter(Boolean).join(' and ');
    throw badParam(field, `${field} must be ${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function readBoolean(body: Body, field: string, name = field): boolean | undefined {
  if (!present(body, field)) return undefined;
  if (typeof body[field] !== 'boolean') throw badParam(name, `${name} must be a boolean`);
  return body[field] as boolean;
}

/** `stop`: a string or up to 4 strings, as OpenAI allows. */
function readStop(body: Body): Pick<GenerateOptions, 'stop'> {
  if (!present(body, 'stop')) return {};
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (!Array.isArray(stop) || stop.length > 4 || stop.some((s) => typeof s !== 'string' || s === '')) {
    throw badParam('stop', 'stop must be a non-empty string or an array of up to 4 of them');
  }
  return { stop };
}
