/**
 * Validates a Hugging Face `config.json` (and `generation_config.json`) into the normalised
 * shapes the engine uses. Defaults follow transformers' Qwen2Config and LlamaConfig; structural
 * sizes have no default, because guessing them would only fail later with a worse message.
 */
import type { Architecture, ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';

type JsonObject = Record<string, unknown>;

const SUPPORTED: Record<Architecture, { className: string; modelType: string }> = {
  qwen2: { className: 'Qwen2ForCausalLM', modelType: 'qwen2' },
  llama: { className: 'LlamaForCausalLM', modelType: 'llama' },
};

const SUPPORTED_LIST = Object.values(SUPPORTED)
  .map((s) => `${s.className} (model_type "${s.modelType}")`)
  .join(', ');

/**
 * Sampling defaults a checkpoint ships in `generation_config.json`. Only fields that are present
 * are set; callers fall back to their own defaults.
 */
export interface GenerationConfig {
  /** Overrides config.json's eos ids when present. */
  eosTokenIds?: number[];
  bosTokenId?: number;
  doSample?: boolean;
  temperature?: number;
  topP?: number;
  /** 0 disables top-k, as in transformers. */
  topK?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
}

/**
 * Parses a parsed `config.json`. `file` is only used in error messages.
 * @throws ModelLoadError INVALID_JSON when the JSON is not an object; MISSING_CONFIG_FIELD when a
 *   required field is absent or null; INVALID_CONFIG_FIELD for a wrong type, a non-positive size,
 *   head counts that do not divide, an odd head size, or architectures and model_type that disagree;
 *   UNSUPPORTED_ARCHITECTURE for an architecture other than Qwen2/Llama, rope_scaling, an
 *   activation other than silu, sliding-window attention or MLP biases.
 */
export function parseConfig(json: unknown, file: string): ModelConfig {
  const obj = asObject(json, file);
  const architecture = resolveArchitecture(obj, file);
  rejectUnsupportedFeatures(obj, architecture, file);

  const hiddenSize = requiredPositiveInt(obj, 'hidden_size', file);
  const numHeads = requiredPositiveInt(obj, 'num_attention_heads', file);
  const numKvHeads = optional(obj, 'num_key_value_heads', file, positiveInt) ?? numHeads;
  if (numHeads % numKvHeads !== 0) {
    throw invalid(file, 'num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  }
  let headDim = optional(obj, 'head_dim', file, positiveInt);
  if (headDim === undefined) {
    if (hiddenSize % numHeads !== 0) {
      throw invalid(file, 'num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize}) when head_dim is not given`);
    }
    headDim = hiddenSize / numHeads;
  }
  // RoPE rotates pairs of dimensions.
  if (headDim % 2 !== 0) throw invalid(file, 'head_dim', `(${headDim}) must be even for rotary position embeddings`);

  const config: ModelConfig = {
    architecture,
    hiddenSize,
    intermediateSize: requiredPositiveInt(obj, 'intermediate_size', file),
    numLayers: requiredPositiveInt(obj, 'num_hidden_layers', file),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: requiredPositiveInt(obj, 'vocab_size', file),
    maxPositionEmbeddings: requiredPositiveInt(obj, 'max_position_embeddings', file),
    ropeTheta: optional(obj, 'rope_theta', file, positiveNumber) ?? 10000,
    rmsNormEps: optional(obj, 'rms_norm_eps', file, positiveNumber) ?? 1e-6,
    tieWordEmbeddings: optional(obj, 'tie_word_embeddings', file, boolean) ?? false,
    // Qwen2 always has q/k/v biases and its config has no flag for them.
    attentionBias: architecture === 'qwen2' || (optional(obj, 'attention_bias', file, boolean) ?? false),
    eosTokenIds: optionalTokenIds(obj, 'eos_token_id', file) ?? [],
  };
  const bosTokenId = optional(obj, 'bos_token_id', file, nonNegativeInt);
  if (bosTokenId !== undefined) config.bosTokenId = bosTokenId;
  return config;
}

/**
 * Parses a parsed `generation_config.json`. `file` is only used in error messages.
 * @throws ModelLoadError INVALID_JSON when the JSON is not an object; INVALID_CONFIG_FIELD when a
 *   known field has the wrong type or is out of range.
 */
export function parseGenerationConfig(json: unknown, file: string): GenerationConfig {
  const obj = asObject(json, file);
  const out: GenerationConfig = {
    eosTokenIds: optionalTokenIds(obj, 'eos_token_id', file),
    bosTokenId: optional(obj, 'bos_token_id', file, nonNegativeInt),
    doSample: optional(obj, 'do_sample', file, boolean),
    temperature: optional(obj, 'temperature', file, nonNegativeNumber),
    topP: optional(obj, 'top_p', file, probability),
    topK: optional(obj, 'top_k', file, nonNegativeInt),
    repetitionPenalty: optional(obj, 'repetition_penalty', file, positiveNumber),
    maxNewTokens: optional(obj, 'max_new_tokens', file, positiveInt),
  };
  // Drop absent keys so callers can spread the result over their defaults.
  for (const key of Object.keys(out) as (keyof GenerationConfig)[]) {
    if (out[key] === undefined) delete out[key];
  }
  return out;
}

/** architectures[0] and model_type each name an architecture; either suffices, both must agree. */
function resolveArchitecture(obj: JsonObject, file: string): Architecture {
  const className = optional(obj, 'architectures', file, classNames)?.[0];
  const modelType = optional(obj, 'model_type', file, string);
  if (className === undefined && modelType === undefined) {
    throw new ModelLoadError(
      'MISSING_CONFIG_FIELD',
      `${file}: config has neither "architectures" nor "model_type"; supported: ${SUPPORTED_LIST}`,
      file,
    );
  }
  const fromClass = className === undefined ? undefined : lookup('className', className, 'architectures', file);
  const fromType = modelType === undefined ? undefined : lookup('modelType', modelType, 'model_type', file);
  if (fromClass !== undefined && fromType !== undefined && fromClass !== fromType) {
    throw invalid(file, 'model_type', `("${modelType}") disagrees with architectures ("${className}")`);
  }
  return (fromClass ?? fromType)!;
}

function lookup(key: 'className' | 'modelType', value: string, field: string, file: string): Architecture {
  const found = (Object.keys(SUPPORTED) as Architecture[]).find((a) => SUPPORTED[a][key] === value);
  if (found) return found;
  throw new ModelLoadError(
    'UNSUPPORTED_ARCHITECTURE',
    `${file}: ${field} "${value}" is not supported; supported: ${SUPPORTED_LIST}`,
    file,
  );
}

/** Features that change the math in ways the engine does not implement yet. */
function rejectUnsupportedFeatures(obj: JsonObject, architecture: Architecture, file: string): void {
  const unsupported = (what: string) =>
    new ModelLoadError('UNSUPPORTED_ARCHITECTURE', `${file}: ${what} is not supported yet`, file);

  const ropeScaling = optional(obj, 'rope_scaling', file, object);
  if (ropeScaling !== undefined) {
    const type = ropeScaling.rope_type ?? ropeScaling.type;
    // transformers treats rope_type "default" as plain RoPE.
    if (type !== 'default') {
      throw unsupported(`rope_scaling of type ${JSON.stringify(type ?? null)} (only plain RoPE)`);
    }
  }
  const act = optional(obj, 'hidden_act', file, string);
  if (act !== undefined && act !== 'silu') throw unsupported(`hidden_act "${act}" (only "silu")`);
  if (architecture === 'llama' && optional(obj, 'mlp_bias', file, boolean)) throw unsupported('mlp_bias: true');
  if (architecture === 'qwen2' && optional(obj, 'use_sliding_window', file, boolean)) {
    throw unsupported('use_sliding_window: true');
  }
}

/** A JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asObject(json: unknown, file: string): JsonObject {
  if (isJsonObject(json)) return json;
  throw new ModelLoadError('INVALID_JSON', `${file}: expected a JSON object at the top level`, file);
}

/** A field's accepted values, and how to say what was expected. */
interface Kind<T> {
  expected: string;
  is(value: unknown): value is T;
}

/**
 * The field's value, or undefined when it is absent or null (transformers writes null for unset).
 * @throws ModelLoadError INVALID_CONFIG_FIELD when the value is not of the kind.
 */
function optional<T>(obj: JsonObject, key: string, file: string, kind: Kind<T>): T | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!kind.is(value)) throw invalid(file, key, `must be ${kind.expected}, got ${JSON.stringify(value)}`);
  return value;
}

function requiredPositiveInt(obj: JsonObject, key: string, file: string): number {
  const value = optional(obj, key, file, positiveInt);
  if (value === undefined) {
    throw new ModelLoadError('MISSING_CONFIG_FIELD', `${file}: required config field "${key}" is missing`, file);
  }
  return value;
}

/** eos_token_id may be one id or a list of them. */
function optionalTokenIds(obj: JsonObject, key: string, file: string): number[] | undefined {
  const ids = optional(obj, key, file, tokenIdOrList);
  return ids === undefined ? undefined : [ids].flat();
}

function invalid(file: string, key: string, what: string): ModelLoadError {
  return new ModelLoadError('INVALID_CONFIG_FIELD', `${file}: config field "${key}" ${what}`, file);
}

function kind<T>(expected: string, test: (v: unknown) => boolean): Kind<T> {
  return { expected, is: (v): v is T => test(v) };
}

const isNonNegativeInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const positiveInt = kind<number>('a positive integer', (v) => isNonNegativeInt(v) && v !== 0);
const nonNegativeInt = kind<number>('a non-negative integer', isNonNegativeInt);
const positiveNumber = kind<number>('a positive number', (v) => isFiniteNumber(v) && v > 0);
const nonNegativeNumber = kind<number>('a non-negative number', (v) => isFiniteNumber(v) && v >= 0);
const probability = kind<number>('a number in (0, 1]', (v) => isFiniteNumber(v) && v > 0 && v <= 1);
const boolean = kind<boolean>('true or false', (v) => typeof v === 'boolean');
const object = kind<JsonObject>('an object', isJsonObject);
const string = kind<string>('a string', (v) => typeof v === 'string');
const classNames = kind<string[]>(
  'a non-empty array of class names',
  (v) => Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'string'),
);
const tokenIdOrList = kind<number | number[]>(
  'a token id or an array of token ids',
  (v) => isNonNegativeInt(v) || (Array.isArray(v) && v.every(isNonNegativeInt)),
);
