/**
 * The token-level fields of a training record (the JSONL that train/ consumes): a prompt and the
 * answer text the model learns, tokenized, with the Multiverse positions and path spans from
 * multiverseLayout, so training sees exactly the layout the engine reproduces at inference.
 * src/tasks/arith/export.ts documents the whole record; the curator (src/curator/) writes the same.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import { multiverseLayout } from './attention.js';
import { tagRoles, type MultiverseTagIds } from './tags.js';

/** The end of the assistant's turn in the ChatML template. */
export const END_OF_TURN = '<|im_end|>';

export interface TrainingTokens {
  prompt_len: number;
  ids: number[];
  loss_mask: number[];
  positions: number[];
  path_span: number[];
  span_parent: number[];
  span_block: number[];
}

/** Per span, its parent span and its block, from the tag tokens (the layout has validated their order). */
function spanTables(ids: readonly number[], tagIds: MultiverseTagIds): { parent: number[]; block: number[] } {
  const roles = tagRoles(tagIds);
  const parent: number[] = [];
  const block: number[] = [];
  const openBlocks: number[] = [];
  const openSpans: number[] = [];
  let blocks = 0;
  for (const id of ids) {
    switch (roles.get(id)) {
      case 'parallelOpen':
        openBlocks.push(blocks++);
        break;
      case 'parallelClose':
        openBlocks.pop();
        break;
      case 'pathOpen':
        parent.push(openSpans.at(-1) ?? -1);
        block.push(openBlocks.at(-1) as number);
        openSpans.push(parent.length - 1);
        break;
      case 'pathClose':
        openSpans.pop();
        break;
    }
  }
  return { parent, block };
}

/**
 * The tokens of `prompt` (loss 0) then `answer` + `<|im_end|>` (loss 1), with their layout.
 * @throws MultiverseFormatError when the answer breaks the tag grammar.
 */
export function trainingTokens(prompt: string, answer: string, tokenizer: Tokenizer, tagIds: MultiverseTagIds): TrainingTokens {
  const promptIds = tokenizer.encode(prompt, { addSpecialTokens: false });
  const ids = [...promptIds, ...tokenizer.encode(answer + END_OF_TURN, { addSpecialTokens: false })];
  const layout = multiverseLayout(ids, tagIds);
  const spans = spanTables(ids, tagIds);
  return {
    prompt_len: promptIds.length,
    ids,
    loss_mask: ids.map((_, i) => (i < promptIds.length ? 0 : 1)),
    positions: layout.positions,
    path_span: layout.pathSpan,
    span_parent: spans.parent,
    span_block: spans.block,
  };
}
