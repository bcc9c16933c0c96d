/**
 * Which files of a hub repo make a checkpoint `openCheckpoint` can load: config and tokenizer,
 * the optional configs beside them, and the weights: `model.safetensors`, else the index and the
 * shards it names (as transformers looks for them). Nothing else in the repo is fetched.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../model/errors.js';

export const REQUIRED_FILES = ['config.json', 'tokenizer.json'] as const;
export const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja', 'multiverse.json'] as const;
export const SINGLE_WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

/**
 * The shard files a downloaded index names, each once, in first-use order.
 * @throws ModelLoadError INVALID_JSON when the index is not JSON with a weight_map of file names inside the repo.
 */
export async function shardsOf(indexFile: string): Promise<string[]> {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(await fs.readFile(indexFile, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw new ModelLoadError('INVALID_JSON', `${indexFile}: ${(err as Error).message}`, indexFile);
  }
  const names = typeof weightMap === 'object' && weightMap !== null ? [...new Set(Object.values(weightMap))] : [];
  const inside = (n: unknown) => typeof n === 'string' && n !== '' && !path.isAbsolute(n) && !n.split(/[\\/]/).includes('..');
  if (names.length === 0 || !names.every(inside)) {
    throw new ModelLoadError('INVALID_JSON', `${indexFile}: "weight_map" must map tensor names to safetensors files in the repo`, indexFile);
  }
  return names as string[];
}
