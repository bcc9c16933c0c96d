/**
 * The server's caps on what one request may ask for, the same on every path (WebSocket,
 * chat and completions): checked on the options as the client sent them, before the
 * prepareOptions hook and the engine. The engine checks the rest of each option's range.
 */
import { GenerationError } from '../engine/errors.js';
import { AUTO_MAX_PATHS } from '../engine/generate-options.js';
import type { ServerContext } from './context.js';
import type { WireGenerateOptions } from '../protocol/messages.js';

/** OpenAI's most `top_logprobs`: each token's event carries this many alternatives at most. */
export const MAX_TOP_LOGPROBS = 20;

export interface RequestLimits {
  maxTokens: number;
  maxDepth: number;
  maxPathsPerFork: number;
  /** Token ids are below it (stopTokenIds). */
  vocabSize: number;
}

/** An option over its cap: which one (`topLogprobs`, `multiverse.maxDepth`), what it must be, and what came. */
export interface LimitBreach {
  option: string;
  rule: string;
  value: unknown;
}

/** `maxTotalTokens` may be this many times the `maxTokens` cap: the engine's default ratio. */
const TOTAL_TOKENS_FACTOR = 8;

export function requestLimits({ options, model }: ServerContext): RequestLimits {
  return { maxTokens: options.maxTokens, maxDepth: options.maxDepth, maxPathsPerFork: options.maxPathsPerFork, vocabSize: model.checkpoint.config.vocabSize };
}

/** A breach as a sentence, the option named as the client wrote it. */
export function describeBreach({ rule, value }: LimitBreach, name: string): string {
  return `${name} must be ${rule}, got ${JSON.stringify(value)}`;
}

/**
 * For the WebSocket path, where options travel under their own names (`options.topLogprobs`).
 * @throws GenerationError INVALID_REQUEST for the first option over its cap.
 */
export function checkWireLimits(options: WireGenerateOptions, ctx: ServerContext): void {
  const breach = findLimitBreach(options, requestLimits(ctx));
  if (breach) throw new GenerationError('INVALID_REQUEST', describeBreach(breach, `options.${breach.option}`));
}

/** The first option that breaks a cap, or undefined. Types are already checked (protocol-parse, openai-params). */
export function findLimitBreach(options: WireGenerateOptions, limits: RequestLimits): LimitBreach | undefined {
  const atMost = (option: string, value: number | undefined, max: number, min: number): LimitBreach | undefined =>
    value === undefined || (Number.isInteger(value) && value >= min && value <= max) ? undefined : { option, rule: `an integer ${min}..${max}`, value };
  const m = options.multiverse ?? {};
  return (
    atMost('maxTokens', options.maxTokens, limits.maxTokens, 1) ??
    atMost('maxTotalTokens', options.maxTotalTokens, TOTAL_TOKENS_FACTOR * limits.maxTokens, 1) ??
    atMost('topLogprobs', options.topLogprobs, MAX_TOP_LOGPROBS, 0) ??
    atMost('multiverse.maxDepth', m.maxDepth, limits.maxDepth, 0) ??
    (m.maxPathsPerFork === 'auto' ? autoPathsBreach(limits.maxPathsPerFork) : atMost('multiverse.maxPathsPerFork', m.maxPathsPerFork, limits.maxPathsPerFork, 0)) ??
    (options.topP === undefined || (options.topP > 0 && options.topP <= 1) ? undefined : { option: 'topP', rule: 'a number in (0, 1]', value: options.topP }) ??
    stopTokenBreach(options.stopTokenIds, limits.vocabSize)
  );
}

/** 'auto' opens up to AUTO_MAX_PATHS paths: allowed where the server's cap allows that many. */
function autoPathsBreach(max: number): LimitBreach | undefined {
  if (max >= AUTO_MAX_PATHS) return undefined;
  return { option: 'multiverse.maxPathsPerFork', rule: `an integer 0..${max} ('auto' opens up to ${AUTO_MAX_PATHS} paths, over this server's maxPathsPerFork)`, value: 'auto' };
}

function stopTokenBreach(ids: number[] | undefined, vocabSize: number): LimitBreach | undefined {
  const bad = ids?.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
  return bad === undefined ? undefined : { option: 'stopTokenIds', rule: `token ids 0..${vocabSize - 1}`, value: bad };
}
