/**
 * The forced openers of a model: what the engine writes for the model at the start of each path
 * and of the conclusion. A per-model template, because models were trained with different
 * separators: ours put nothing between tags (`<Path>1:`); Multiverse-32B's engine uses
 * `\n<Path>\n1`. A model folder may carry `multiverse.json` with `pathOpener` (containing
 * `{label}`) and `conclusionOpener`.
 */
import path from 'node:path';
import { ModelLoadError } from '../model/errors.js';
import { readModelText } from '../model/model-file.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { TagScanner, type TagMode } from './tag-scanner.js';
import type { MultiverseTagText } from './tags.js';

export interface MultiverseTemplate {
  /** Text forced at the start of each path; `{label}` becomes the outline label. */
  pathOpener: string;
  /** Text forced after the merge, before the model writes its conclusion. */
  conclusionOpener: string;
}

export const DEFAULT_TEMPLATE: MultiverseTemplate = { pathOpener: '<Path>{label}:', conclusionOpener: '<Conclusion>' };

/**
 * The template from `dir/multiverse.json` over the defaults.
 * @throws ModelLoadError INVALID_JSON when the file is malformed or lacks `{label}` in pathOpener;
 *   the codes of readModelText when something other than a regular file is there.
 */
export async function readTemplate(dir: string): Promise<MultiverseTemplate> {
  const file = path.join(dir, 'multiverse.json');
  const text = await readModelText(file);
  if (text === undefined) return DEFAULT_TEMPLATE;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError('INVALID_JSON', `${file}: ${(e as Error).message}`, file);
  }
  const t = { ...DEFAULT_TEMPLATE, ...(json as Partial<MultiverseTemplate>) };
  if (typeof t.pathOpener !== 'string' || !t.pathOpener.includes('{label}') || typeof t.conclusionOpener !== 'string') {
    throw new ModelLoadError('INVALID_JSON', `${file}: pathOpener must be a string containing {label}, conclusionOpener a string`, file);
  }
  return t;
}

/** An opener as tokens, with the position id of each. */
export interface Opener {
  tokens: number[];
  positions: number[];
}

/**
 * Encodes an opener and assigns positions the training collator's way: the tag (`<Path>` or
 * `<Conclusion>`) takes `start`, and so does every separator before it; tokens after it count up.
 */
export function encodeOpener(text: string, tag: MultiverseTagText, start: number, tokenizer: Tokenizer, mode: TagMode): Opener {
  const tokens = tokenizer.encode(text, { addSpecialTokens: false });
  const scanner = new TagScanner(mode);
  const tagAt = tokens.findIndex((t) => scanner.push(t).includes(tag));
  const lead = Math.max(0, tagAt);
  return { tokens, positions: tokens.map((_, i) => (i <= lead ? start : start + i - lead)) };
}
