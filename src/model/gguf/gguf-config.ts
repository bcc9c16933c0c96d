/**
 * The model's hyper-parameters from GGUF metadata (`general.architecture`, then
 * `{arch}.block_count`, `.embedding_length`, ...), normalised to the ModelConfig a Hugging Face
 * config.json gives. Qwen2 and Llama are supported, as in config.json.
 */
import type { Architecture, ModelConfig } from '../config.js';
import { ModelLoadError } from '../errors.js';
import type { GgufHeader, GgufValue } from './gguf-header.js';

const ARCHITECTURES: readonly Architecture[] = ['qwen2', 'llama'];

/**
 * @throws ModelLoadError UNSUPPORTED_ARCHITECTURE for an architecture other than qwen2/llama or
 *   rope scaling; MISSING_CONFIG_FIELD for an absent size; INVALID_CONFIG_FIELD for a value of the
 *   wrong type or head counts that do not divide.
 */
export function ggufConfig(header: GgufHeader, hasAttentionBias: boolean, tied: boolean): ModelConfig {
  const { file, metadata } = header;
  const arch = metadata.get('general.architecture');
  if (typeof arch !== 'string') throw missing(file, 'general.architecture');
  if (!ARCHITECTURES.includes(arch as Architecture)) {
    throw new ModelLoadError('UNSUPPORTED_ARCHITECTURE', `${file}: general.architecture is "${arch}"; the engine runs ${ARCHITECTURES.join(' and ')}`, file);
  }
  const architecture = arch as Architecture;
  const key = (name: string) => `${arch}.${name}`;
  const required = (name: string) => positiveInt(file, key(name), metadata.get(key(name)), true)!;
  const optional = (name: string) => positiveInt(file, key(name), metadata.get(key(name)), false);

  const scaling = metadata.get(key('rope.scaling.type'));
  if (scaling !== undefined && scaling !== 'none') {
    throw new ModelLoadError('UNSUPPORTED_ARCHITECTURE', `${file}: ${key('rope.scaling.type')} is "${String(scaling)}"; rope scaling is not supported`, file);
  }

  const hiddenSize = required('embedding_length');
  const numHeads = required('attention.head_count');
  const numKvHeads = optional('attention.head_count_kv') ?? numHeads;
  if (numHeads % numKvHeads !== 0) {
    throw invalid(file, key('attention.head_count_kv'), `(${numKvHeads}) must divide ${key('attention.head_count')} (${numHeads})`);
  }
  const headDim = optional('attention.key_length') ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) {
    throw invalid(file, key('attention.head_count'), `(${numHeads}) must divide ${key('embedding_length')} (${hiddenSize}) when attention.key_length is not given`);
  }
  const tokens = metadata.get('tokenizer.ggml.tokens');
  const vocabSize = optional('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined);
  if (vocabSize === undefined) throw missing(file, `${key('vocab_size')} (or tokenizer.ggml.tokens)`);

  return {
    architecture,
    hiddenSize,
    intermediateSize: required('feed_forward_length'),
    numLayers: required('block_count'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    maxPositionEmbeddings: required('context_length'),
    ropeTheta: positiveNumber(file, key('rope.freq_base'), metadata.get(key('rope.freq_base'))) ?? 10000,
    rmsNormEps: positiveNumber(file, key('attention.layer_norm_rms_epsilon'), metadata.get(key('attention.layer_norm_rms_epsilon'))) ?? 1e-6,
    tieWordEmbeddings: tied,
    // Qwen2 always has q/k/v biases; a llama file has them when its tensor table does.
    attentionBias: architecture === 'qwen2' || hasAttentionBias,
    eosTokenIds: [],
    // llama.cpp's converter permutes llama's q/k rows for interleaved rope, and leaves qwen2's alone.
    ropeStyle: architecture === 'llama' ? 'interleaved' : 'neox',
  };
}

function positiveInt(file: string, key: string, value: GgufValue | undefined, isRequired: boolean): number | undefined {
  if (value === undefined) {
    if (isRequired) throw missing(file, key);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw invalid(file, key, `must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function positiveNumber(file: string, key: string, value: GgufValue | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0)) throw invalid(file, key, `must be a positive number, got ${JSON.stringify(value)}`);
  return value;
}

function missing(file: string, key: string): ModelLoadError {
  return new ModelLoadError('MISSING_CONFIG_FIELD', `${file}: metadata ${key} is missing`, file);
}

function invalid(file: string, key: string, rule: string): ModelLoadError {
  return new ModelLoadError('INVALID_CONFIG_FIELD', `${file}: metadata ${key} ${rule}`, file);
}
