/**
 * Opens a Hugging Face checkpoint folder: validates config.json, finds the weights (one
 * `model.safetensors` or the shards of `model.safetensors.index.json`), and checks every tensor the
 * engine needs against the architecture's layout. Only JSON and safetensors headers are read; the
 * result is the byte-range table the native engine maps.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig, WeightDtype } from './config.js';
import { isWeightDtype } from './dtype-decode.js';
import { ModelLoadError } from './errors.js';
import type { NativeTensorRef } from '../native/binding.js';
import { isJsonObject, parseConfig, parseGenerationConfig, type GenerationConfig } from './parse-config.js';
import { readSafetensorsHeader, type SafetensorsFile } from './safetensors.js';
import { expectedTensors } from './tensor-layout.js';

export interface Checkpoint {
  /** Absolute path of the folder. */
  dir: string;
  config: ModelConfig;
  configFile: string;
  /** Exactly the tensors the engine needs, in tensor-layout order. */
  tensors: NativeTensorRef<WeightDtype>[];
  /** The dtype holding the most parameters (norms are sometimes kept in F32 beside BF16 matrices). */
  weightDtype: WeightDtype;
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
  if (!(await isKind(abs, 'directory'))) {
    throw new ModelLoadError('MODEL_DIR_NOT_FOUND', `${abs}: no such model folder`, abs);
  }

  const configFile = path.join(abs, 'config.json');
  const config = parseConfig(await readJson(configFile), configFile);
  const generationFile = path.join(abs, 'generation_config.json');
  const generationJson = await readOptionalJson(generationFile);
  const generationConfig = generationJson === undefined ? undefined : parseGenerationConfig(generationJson, generationFile);

  const tokenizerFile = path.join(abs, 'tokenizer.json');
  if (!(await isKind(tokenizerFile, 'file'))) {
    throw new ModelLoadError('FILE_NOT_FOUND', `${tokenizerFile}: no such file (the model folder needs a tokenizer)`, tokenizerFile);
  }
  const tokenizerConfigFile = path.join(abs, 'tokenizer_config.json');
  const hasTokenizerConfig = await isKind(tokenizerConfigFile, 'file');

  const tensors = await resolveTensors(config, await locateWeights(abs));
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

/** Which safetensors file holds a tensor; throws MISSING_TENSOR when the index does not list it. */
type WeightLocator = (tensor: string) => string;

/**
 * Prefers the single file, as transformers does, then the index.
 * @throws ModelLoadError FILE_NOT_FOUND when neither exists; INVALID_JSON for a bad index.
 */
async function locateWeights(dir: string): Promise<WeightLocator> {
  const single = path.join(dir, SINGLE_FILE);
  if (await isKind(single, 'file')) return () => single;

  const indexFile = path.join(dir, INDEX_FILE);
  const index = await readOptionalJson(indexFile);
  if (index === undefined) {
    throw new ModelLoadError('FILE_NOT_FOUND', `${single}: no such file, and no ${INDEX_FILE} beside it`, single);
  }
  const weightMap = isJsonObject(index) ? index.weight_map : undefined;
  if (!isJsonObject(weightMap)) {
    throw new ModelLoadError('INVALID_JSON', `${indexFile}: "weight_map" must be an object of tensor name -> file`, indexFile);
  }
  return (tensor) => {
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
}

/** Checks each expected tensor's presence, dtype and shape; reads each shard header once, in order. */
async function resolveTensors(config: ModelConfig, locate: WeightLocator): Promise<NativeTensorRef<WeightDtype>[]> {
  const headers = new Map<string, SafetensorsFile>();
  const refs: NativeTensorRef<WeightDtype>[] = [];
  for (const { name, shape } of expectedTensors(config)) {
    const file = locate(name);
    let header = headers.get(file);
    if (!header) {
      header = await readSafetensorsHeader(file);
      headers.set(file, header);
    }
    const entry = header.tensors.get(name);
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

function dominantDtype(tensors: NativeTensorRef<WeightDtype>[]): WeightDtype {
  const counts = new Map<WeightDtype, number>();
  for (const t of tensors) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + elementCount(t.shape));
  // Map order is first appearance, so ties go to the dtype of the earliest tensor.
  return [...counts].reduce((best, next) => (next[1] > best[1] ? next : best))[0];
}

function elementCount(shape: number[]): number {
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

/** Undefined when the file does not exist. @throws ModelLoadError INVALID_JSON when it does not parse. */
async function readOptionalJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ModelLoadError('INVALID_JSON', `${file}: not valid JSON (${(err as Error).message})`, file);
  }
}

async function isKind(p: string, kind: 'file' | 'directory'): Promise<boolean> {
  try {
    const stat = await fs.stat(p);
    return kind === 'file' ? stat.isFile() : stat.isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}
