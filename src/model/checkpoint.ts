/**
 * Opens a Hugging Face checkpoint folder: validates config.json, finds the weights (one
 * `model.safetensors` or the shards of `model.safetensors.index.json`), and checks every tensor the
 * engine needs against the architecture's layout. Only JSON and safetensors headers are read; the
 * result is the byte-range table the native engine maps.
 */
import path from 'node:path';
import type { ModelConfig, WeightDtype } from './config.js';
import { isWeightDtype } from './dtype-decode.js';
import { ModelLoadError } from './errors.js';
import { fileExists, folderExists, readModelText } from './model-file.js';
import type { NativeTensorRef } from '../native/binding.js';
import { isJsonObject, parseConfig, parseGenerationConfig, type GenerationConfig } from './parse-config.js';
import { readSafetensorsHeader, type SafetensorsFile } from './safetensors.js';
import { expectedTensors } from './tensor-layout.js';

export interface Checkpoint {
  /** Absolute path of the folder (of the file, for a GGUF model). */
  dir: string;
  config: ModelConfig;
  configFile: string;
  /** Exactly the tensors the engine needs, in tensor-layout order. */
  tensors: NativeTensorRef[];
  /** The dtype holding the most parameters (norms are sometimes kept in F32 beside BF16 matrices). */
  weightDtype: NativeTensorRef['dtype'];
  /** From generation_config.json, when the folder has one. */
  generationConfig?: GenerationConfig;
  /** generation_config.json's eos ids when it gives them, else config.json's. */
  eosTokenIds: number[];
  tokenizerFile: string;
  /** tokenizer_config.json (chat template, special tokens), when the folder has one. */
  tokenizerConfigFile?: string;
  /** Elements in the loaded tensors (tied embeddings counted once). */
  parameterCount: number;
}

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Opens and validates a checkpoint folder without reading tensor data.
 * @throws ModelLoadError MODEL_DIR_NOT_FOUND when `dir` is not a folder; FILE_NOT_FOUND for a
 *   missing config.json, tokenizer.json, weights or shard; INVALID_JSON naming the file for JSON
 *   that does not parse or a malformed index; the config codes of parseConfig; the header codes of
 *   readSafetensorsHeader; MISSING_TENSOR, WRONG_SHAPE or UNKNOWN_DTYPE naming the file and tensor.
 */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const abs = path.resolve(dir);
  if (!(await folderExists(abs))) {
    throw new ModelLoadError('MODEL_DIR_NOT_FOUND', `${abs}: no such model folder`, abs);
  }

  const configFile = path.join(abs, 'config.json');
  const config = parseConfig(await readJson(configFile), configFile);
  const generationFile = path.join(abs, 'generation_config.json');
  const generationJson = await readOptionalJson(generationFile);
  const generationConfig = generationJson === undefined ? undefined : parseGenerationConfig(generationJson, generationFile);

  const tokenizerFile = path.join(abs, 'tokenizer.json');
  if (!(await fileExists(tokenizerFile))) {
    throw new ModelLoadError('FILE_NOT_FOUND', `${tokenizerFile}: no such file (the model folder needs a tokenizer)`, tokenizerFile);
  }
  const tokenizerConfigFile = path.join(abs, 'tokenizer_config.json');
  const hasTokenizerConfig = await fileExists(tokenizerConfigFile);

  const weights = await locateWeights(abs);
  await checkSizesAgainstWeights(config, configFile, weights);
  const tensors = await resolveTensors(config, weights);
  return {
    dir: abs,
    config,
    configFile,
    tensors,
    weightDtype: dominantDtype(tensors),
    ...(generationConfig && { generationConfig }),
    eosTokenIds: generationConfig?.eosTokenIds ?? config.eosTokenIds,
    tokenizerFile,
    ...(hasTokenizerConfig && { tokenizerConfigFile }),
    parameterCount: tensors.reduce((n, t) => n + elementCount(t.shape), 0),
  };
}

/** Where the weights are: the file holding each tensor, and every tensor name the weights declare. */
interface WeightFiles {
  /** Which safetensors file holds a tensor; throws MISSING_TENSOR when the index does not list it. */
  locate(tensor: string): string;
  /** The single file's header keys, or the index's weight_map keys. */
  names: readonly string[];
  /** The file that declares `names`, for messages. */
  listing: string;
  /** Headers read so far, by file; each is read once. */
  headers: Map<string, SafetensorsFile>;
}

/**
 * Prefers the single file, as transformers does, then the index.
 * @throws ModelLoadError FILE_NOT_FOUND when neither exists; INVALID_JSON for a bad index; the
 *   header codes of readSafetensorsHeader for the single file.
 */
async function locateWeights(dir: string): Promise<WeightFiles> {
  const single = path.join(dir, SINGLE_FILE);
  if (await fileExists(single)) {
    const header = await readSafetensorsHeader(single);
    return { locate: () => single, names: [...header.tensors.keys()], listing: single, headers: new Map([[single, header]]) };
  }

  const indexFile = path.join(dir, INDEX_FILE);
  const index = await readOptionalJson(indexFile);
  if (index === undefined) {
    throw new ModelLoadError('FILE_NOT_FOUND', `${single}: no such file, and no ${INDEX_FILE} beside it`, single);
  }
  const weightMap = isJsonObject(index) ? index.weight_map : undefined;
  if (!isJsonObject(weightMap)) {
    throw new ModelLoadError('INVALID_JSON', `${indexFile}: "weight_map" must be an object of tensor name -> file`, indexFile);
  }
  const locate = (tensor: string) => {
    const shard = weightMap[tensor];
    if (shard === undefined) {
      throw new ModelLoadError('MISSING_TENSOR', `${indexFile}: tensor "${tensor}" is not in weight_map`, indexFile, tensor);
    }
    const file = typeof shard === 'string' ? path.resolve(dir, shard) : undefined;
    // A shard name must stay inside the folder; anything else is a broken (or hostile) index.
    if (file === undefined || !file.startsWith(dir + path.sep)) {
      throw new ModelLoadError(
        'INVALID_JSON',
        `${indexFile}: weight_map entry for "${tensor}" is ${JSON.stringify(shard)}, not a file in the model folder`,
        indexFile,
        tensor,
      );
    }
    return file;
  };
  return { locate, names: Object.keys(weightMap), listing: indexFile, headers: new Map() };
}

async function headerOf(weights: WeightFiles, file: string): Promise<SafetensorsFile> {
  let header = weights.headers.get(file);
  if (!header) {
    header = await readSafetensorsHeader(file);
    weights.headers.set(file, header);
  }
  return header;
}

/**
 * Checks config.json's sizes against the tensors present before anything is built from them: the
 * tensor list grows with num_hidden_layers (1e9 layers would be a list of 1e10 names), so the layer
 * count is checked against the layer names the weights declare, and vocab_size and hidden_size
 * against the embedding table. Every other size is checked by the shape of a layer-0 tensor.
 * @throws ModelLoadError INVALID_CONFIG_FIELD naming config.json and the field.
 */
async function checkSizesAgainstWeights(config: ModelConfig, configFile: string, weights: WeightFiles): Promise<void> {
  const embed = 'model.embed_tokens.weight';
  const file = weights.locate(embed);
  const shape = (await headerOf(weights, file)).tensors.get(embed)?.shape;
  // A missing or odd-ranked table is reported with the tensor named, by resolveTensors.
  const sizes =
    shape?.length === 2
      ? ([
          ['vocab_size', config.vocabSize, shape[0], 'rows'],
          ['hidden_size', config.hiddenSize, shape[1], 'columns'],
        ] as const)
      : [];
  for (const [field, value, actual, what] of sizes) {
    if (value !== actual) {
      throw new ModelLoadError(
        'INVALID_CONFIG_FIELD',
        `${configFile}: config field "${field}" is ${value}, but tensor "${embed}" in ${file} has ${actual} ${what}`,
        configFile,
      );
    }
  }

  const layerIndices = new Set<number>();
  for (const name of weights.names) {
    const layer = /^model\.layers\.(\d+)\./.exec(name);
    if (layer) layerIndices.add(Number(layer[1]));
  }
  let layers = 0;
  while (layerIndices.has(layers)) layers++;
  if (config.numLayers > layers) {
    throw new ModelLoadError(
      'INVALID_CONFIG_FIELD',
      `${configFile}: config field "num_hidden_layers" is ${config.numLayers}, but ${weights.listing} holds weights for ${layers} layer(s)`,
      configFile,
    );
  }
}

/** Checks each expected tensor's presence, dtype and shape; reads each shard header once, in order. */
async function resolveTensors(config: ModelConfig, weights: WeightFiles): Promise<NativeTensorRef<WeightDtype>[]> {
  const refs: NativeTensorRef<WeightDtype>[] = [];
  for (const { name, shape } of expectedTensors(config)) {
    const file = weights.locate(name);
    const entry = (await headerOf(weights, file)).tensors.get(name);
    if (!entry) throw new ModelLoadError('MISSING_TENSOR', `${file}: tensor "${name}" is missing`, file, name);
    if (!isWeightDtype(entry.dtype)) {
      throw new ModelLoadError(
        'UNKNOWN_DTYPE',
        `${file}: tensor "${name}" has dtype ${entry.dtype}; the engine loads F32, F16 and BF16`,
        file,
        name,
      );
    }
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(
        'WRONG_SHAPE',
        `${file}: tensor "${name}" has shape [${entry.shape}], expected [${shape}] from config.json`,
        file,
        name,
      );
    }
    refs.push({ name, file, offset: entry.offset, byteLength: entry.byteLength, dtype: entry.dtype, shape });
  }
  return refs;
}

/** The dtype of the most parameters; shared with the GGUF loader. */
export function dominantDtype<D extends NativeTensorRef['dtype']>(tensors: NativeTensorRef<D>[]): D {
  const counts = new Map<D, number>();
  for (const t of tensors) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + elementCount(t.shape));
  // Map order is first appearance, so ties go to the dtype of the earliest tensor.
  return [...counts].reduce((best, next) => (next[1] > best[1] ? next : best))[0];
}

export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * @throws ModelLoadError FILE_NOT_FOUND when missing; INVALID_JSON when it does not parse.
 */
async function readJson(file: string): Promise<unknown> {
  const json = await readOptionalJson(file);
  if (json === undefined) throw new ModelLoadError('FILE_NOT_FOUND', `${file}: no such file`, file);
  return json;
}

/**
 * Undefined when the file does not exist.
 * @throws ModelLoadError INVALID_JSON when it does not parse; the codes of readModelText.
 */
async function readOptionalJson(file: string): Promise<unknown> {
  const text = await readModelText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ModelLoadError('INVALID_JSON', `${file}: not valid JSON (${(err as Error).message})`, file);
  }
}

