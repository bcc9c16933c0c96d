/**
 * Options of one generation request, their defaults, and their validation (one place for all).
 */
import type { GenerationConfig } from '../model/parse-config.js';
import { GenerationError } from './errors.js';
import { validateSamplingParams, type SamplingParams } from './sampler.js';

/** How the engine runs a model's parallel blocks (docs/multiverse.md, the scheduler). */
export interface MultiverseOptions {
  /** Fork when the model closes a goal with outlines. Default true. */
  enabled?: boolean;
  /** Most nested forks on one path; a deeper goal is written sequentially. Default 4. */
  maxDepth?: number;
  /**
   * Most paths in one fork; further outlines get no path. Default 8. `'auto'`: every outline gets
   * its path (up to AUTO_MAX_PATHS), decoded in lanes sized from the engine's step cost (`lanes`).
   */
  maxPathsPerFork?: number | 'auto';
  /**
   * Most paths of one fork decoding at once; the others wait, in label order, and each starts when
   * a running path of the fork ends. The transcript and every logit are those of running them all
   * at once. Default: all of them; under `maxPathsPerFork: 'auto'`, the widest step the measured
   * step cost calls nearly free (docs/multiverse.md, lanes).
   */
  lanes?: number;
  /** No fork when fewer critical-path tokens than this remain; the model continues sequentially. Default 16. */
  forkMargin?: number;
  /** Path opener, `{label}` replaced by the outline label. Default: the model's multiverse.json, else `<Path>{label}:`. */
  pathOpener?: string;
  /** Conclusion opener. Default: the model's multiverse.json, else `<Conclusion>`. */
  conclusionOpener?: string;
}

/** A hook that overrides sampling: return a token id to use it, undefined to sample. */
export type TokenPicker = (step: { branch: string; logits: Float32Array; generated: number }) => number | undefined;

export interface GenerateOptions {
  /** Most tokens on the critical path (the sequential length; parallel paths count once). Default 256. */
  maxTokens?: number;
  /** Most tokens over all branches together. Default 8 × maxTokens. */
  maxTotalTokens?: number;
  /** Wall-clock limit in milliseconds; the request ends with finishReason 'length', limit 'timeout'. */
  timeoutMs?: number;
  multiverse?: MultiverseOptions;
  /** Overrides sampling token by token (tests force scripts of tokens; constrained decoding). */
  pickToken?: TokenPicker;
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
  /** Aborting it cancels the request, as unsubscribing does (KV freed within one step), and errors with an `AbortError`. */
  signal?: AbortSignal;
  /**
   * When the KV pool is taken by running requests: wait in the model's admission queue (true), or
   * fail at once with OVERLOADED (false, fail fast). A full queue fails with OVERLOADED either way.
   * Default true.
   */
  waitForKv?: boolean;
}

/** What a value of each option must be; `library` options cannot cross the wire (functions, signals). */
type OptionKind = 'number' | 'paths' | 'boolean' | 'string' | 'number[]' | 'string[]' | 'multiverse' | 'library';

/** Keyed by every option, so an option added to GenerateOptions must be given a kind here. */
const OPTION_KINDS: Record<keyof GenerateOptions, OptionKind> = {
  maxTokens: 'number',
  maxTotalTokens: 'number',
  timeoutMs: 'number',
  multiverse: 'multiverse',
  pickToken: 'library',
  temperature: 'number',
  topK: 'number',
  topP: 'number',
  minP: 'number',
  repetitionPenalty: 'number',
  seed: 'number',
  stop: 'string[]',
  stopTokenIds: 'number[]',
  ignoreEos: 'boolean',
  topLogprobs: 'number',
  raw: 'boolean',
  waitForKv: 'boolean',
  signal: 'library',
};

const MULTIVERSE_KINDS: Record<keyof MultiverseOptions, OptionKind> = {
  enabled: 'boolean',
  maxDepth: 'number',
  maxPathsPerFork: 'paths',
  lanes: 'number',
  forkMargin: 'number',
  pathOpener: 'string',
  conclusionOpener: 'string',
};

/**
 * Checks that `value` is an options object whose every key is an option and every value has its
 * option's type (ranges are resolveOptions' to check): one rule for the library, the wire and the
 * CLI, so a misspelled key never silently changes a request.
 * @param wire true for options that came over the wire, where functions and signals are not options.
 * @throws TypeError naming the unknown key (and the known ones) or the mistyped value.
 */
export function checkOptionShapes(value: unknown, { where = 'options', wire = false }: { where?: string; wire?: boolean } = {}): GenerateOptions {
  checkShapes(value, OPTION_KINDS, where, wire);
  return value as GenerateOptions;
}

function checkShapes(value: unknown, kinds: Record<string, OptionKind>, where: string, wire: boolean): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${where} must be an object`);
  const known = Object.keys(kinds).filter((k) => !(wire && kinds[k] === 'library'));
  for (const [key, v] of Object.entries(value)) {
    const kind = kinds[key];
    if (kind === undefined || (wire && kind === 'library')) throw new TypeError(`${where}.${key} is not an option (known: ${known.join(', ')})`);
    if (v === undefined) continue;
    if (kind === 'multiverse') checkShapes(v, MULTIVERSE_KINDS, `${where}.${key}`, wire);
    else if (!hasKind(key, v, kind)) throw new TypeError(`${where}.${key} must be ${kindName(key, kind)}`);
  }
}

function hasKind(key: string, v: unknown, kind: OptionKind): boolean {
  if (kind === 'number[]') return Array.isArray(v) && v.every((x) => typeof x === 'number');
  if (kind === 'string[]') return Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (kind === 'library') return key === 'signal' ? v instanceof AbortSignal : typeof v === 'function';
  if (kind === 'paths') return typeof v === 'number' || v === 'auto';
  return typeof v === kind;
}

function kindName(key: string, kind: OptionKind): string {
  if (kind === 'library') return key === 'signal' ? 'an AbortSignal' : 'a function';
  if (kind === 'paths') return "a number or 'auto'";
  return `of type ${kind}`;
}

/**
 * Most paths a fork opens under `maxPathsPerFork: 'auto'`: a safety cap against a model that
 * writes runaway outlines (the paths wait for lanes, but each holds its KV until the merge).
 */
export const AUTO_MAX_PATHS = 64;

/** Multiverse options with defaults filled; `lanes: 'auto'` is read off the step cost at the fork. */
export interface ResolvedMultiverseOptions extends Required<Omit<MultiverseOptions, 'maxPathsPerFork' | 'lanes'>> {
  maxPathsPerFork: number;
  /** Paths of one fork decoding at once (Infinity: all). */
  lanes: number | 'auto';
}

export interface ResolvedOptions {
  maxTokens: number;
  maxTotalTokens: number;
  timeoutMs: number;
  multiverse: ResolvedMultiverseOptions;
  pickToken?: TokenPicker;
  sampling: SamplingParams;
  seed: number;
  stop: string[];
  stopTokenIds: Set<number>;
  raw: boolean;
  waitForKv: boolean;
}

/**
 * Fills defaults and checks ranges.
 * @throws GenerationError INVALID_REQUEST naming the bad option.
 */
export function resolveOptions(
  options: GenerateOptions,
  defaults: { generationConfig?: GenerationConfig; eosTokenIds: readonly number[]; template: Required<Pick<MultiverseOptions, 'pathOpener' | 'conclusionOpener'>> },
): ResolvedOptions {
  const g = defaults.generationConfig ?? {};
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) invalid(`maxTokens must be an integer >= 1, got ${maxTokens}`);
  const maxTotalTokens = options.maxTotalTokens ?? 8 * maxTokens;
  if (!Number.isInteger(maxTotalTokens) || maxTotalTokens < 1) invalid(`maxTotalTokens must be an integer >= 1, got ${maxTotalTokens}`);
  const timeoutMs = options.timeoutMs ?? Infinity;
  if (!(timeoutMs > 0)) invalid(`timeoutMs must be > 0, got ${timeoutMs}`);
  const m = options.multiverse ?? {};
  const auto = m.maxPathsPerFork === 'auto';
  const multiverse: ResolvedMultiverseOptions = {
    enabled: m.enabled ?? true,
    maxDepth: m.maxDepth ?? 4,
    maxPathsPerFork: m.maxPathsPerFork === 'auto' ? AUTO_MAX_PATHS : (m.maxPathsPerFork ?? 8),
    lanes: m.lanes ?? (auto ? 'auto' : Infinity),
    forkMargin: m.forkMargin ?? 16,
    pathOpener: m.pathOpener ?? defaults.template.pathOpener,
    conclusionOpener: m.conclusionOpener ?? defaults.template.conclusionOpener,
  };
  for (const key of ['maxDepth', 'maxPathsPerFork', 'forkMargin'] as const) {
    if (!Number.isInteger(multiverse[key]) || multiverse[key] < 0) invalid(`multiverse.${key} must be an integer >= 0${key === 'maxPathsPerFork' ? " or 'auto'" : ''}, got ${multiverse[key]}`);
  }
  if (m.lanes !== undefined && !(Number.isInteger(m.lanes) && m.lanes >= 1)) invalid(`multiverse.lanes must be an integer >= 1, got ${m.lanes}`);
  if (!multiverse.pathOpener.includes('{label}')) invalid('multiverse.pathOpener must contain {label}');
  if (options.waitForKv !== undefined && typeof options.waitForKv !== 'boolean') invalid(`waitForKv must be a boolean, got ${JSON.stringify(options.waitForKv)}`);
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
  return {
    maxTokens,
    maxTotalTokens,
    timeoutMs,
    multiverse,
    pickToken: options.pickToken,
    sampling,
    seed,
    stop,
    stopTokenIds,
    raw: options.raw ?? false,
    waitForKv: options.waitForKv ?? true,
  };
}

function invalid(message: string): never {
  throw new GenerationError('INVALID_REQUEST', message);
}
