/**
 * Options of one generation request, their defaults, and their validation (one place for all).
 */
import type { GenerationConfig } from '../model/parse-config.js';
import { GenerationError } from './errors.js';
import { validateSamplingParams, type SamplingParams } from './sampler.js';

export interface GenerateOptions {
  /** Most tokens to generate. Default 256. */
  maxTokens?: number;
  /** 0 = greedy. Default: generation_config.json's, else 1. */
  temperature?: number;
  /** Default: generation_config.json's, else 0 (off). */
  topK?: number;
  /** Default: generation_config.json's, else 1 (off). */
  topP?: number;
  /** Default 0 (off). */
  minP?: number;
  /** Default: generation_config.json's, else 1 (off). */
  repetitionPenalty?: number;
  /** Seed for sampling; forked branches derive their own streams from it. Default: random. */
  seed?: number;
  /** Strings that end generation; the text stops before them. */
  stop?: string[];
  /** Token ids that end generation, besides the model's end-of-sequence ids. */
  stopTokenIds?: number[];
  /** Keep generating through end-of-sequence tokens. Default false. */
  ignoreEos?: boolean;
  /** Report this many most likely tokens with each token's logprob. Default 0. */
  topLogprobs?: number;
  /** A string input is sent as is, not through the chat template. Default false. */
  raw?: boolean;
}

export interface ResolvedOptions {
  maxTokens: number;
  sampling: SamplingParams;
  seed: number;
  stop: string[];
  stopTokenIds: Set<number>;
  raw: boolean;
}

/**
 * Fills defaults and checks ranges.
 * @throws GenerationError INVALID_REQUEST naming the bad option.
 */
export function resolveOptions(
  options: GenerateOptions,
  defaults: { generationConfig?: GenerationConfig; eosTokenIds: readonly number[] },
): ResolvedOptions {
  const g = defaults.generationConfig ?? {};
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) invalid(`maxTokens must be an integer >= 1, got ${maxTokens}`);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) invalid(`seed must be a safe integer, got ${seed}`);
  const sampling: SamplingParams = {
    temperature: options.temperature ?? g.temperature ?? 1,
    topK: options.topK ?? g.topK ?? 0,
    topP: options.topP ?? g.topP ?? 1,
    minP: options.minP ?? 0,
    repetitionPenalty: options.repetitionPenalty ?? g.repetitionPenalty ?? 1,
    topLogprobs: options.topLogprobs ?? 0,
  };
  try {
    validateSamplingParams(sampling);
  } catch (e) {
    invalid((e as Error).message);
  }
  const stop = options.stop ?? [];
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    invalid('stop must be an array of non-empty strings');
  }
  const stopTokenIds = new Set<number>(options.stopTokenIds ?? []);
  if (!options.ignoreEos) for (const id of defaults.eosTokenIds) stopTokenIds.add(id);
  return { maxTokens, sampling, seed, stop, stopTokenIds, raw: options.raw ?? false };
}

function invalid(message: string): never {
  throw new GenerationError('INVALID_REQUEST', message);
}
