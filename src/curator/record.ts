/**
 * The output records: the training record of a converted trace, in the JSONL schema that train/
 * consumes (src/tasks/arith/export.ts documents the token fields), plus the curator's own fields;
 * and the line that says why a trace was rejected.
 *
 * Converted record (one line of --out):
 *   id         string    the trace's id
 *   problem    string    the question (the user turn of the prompt)
 *   answer     number | string   the final answer (a number when it is an integer)
 *   parts      number    paths of the first top-level block (1 when the text stayed sequential)
 *   nested     boolean   whether a block sits inside another
 *   format     "multiverse" | "sequential"
 *   text       string    the answer text the model learns (before `<|im_end|>`)
 *   curator    { status: "converted" | "repaired", prompts: string[], blocks: {depth, width}[] }
 *   prompt_len, ids, loss_mask, positions, path_span, span_parent, span_block   as in export.ts
 *
 * Rejected record (one line of the .rejected.jsonl beside it): { id, stage, problems }.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import type { MultiverseTagIds } from '../multiverse/tags.js';
import { trainingTokens, type TrainingTokens } from '../multiverse/training-record.js';
import { placedBlocks, type PlanItem } from './plan.js';
import type { Trace } from './trace.js';

export interface BlockShape {
  depth: number;
  width: number;
}

export interface CuratedRecord extends TrainingTokens {
  id: string;
  problem: string;
  answer: number | string;
  parts: number;
  nested: boolean;
  format: 'multiverse' | 'sequential';
  text: string;
  curator?: { status: 'converted' | 'repaired'; prompts: string[]; blocks: BlockShape[] };
}

export interface RejectedRecord {
  id: string;
  stage: string;
  problems: string[];
}

/** The prompt: the question as the user turn, then the assistant's opener. */
export function promptOf(trace: Trace, tokenizer: Tokenizer): string {
  return tokenizer.applyChatTemplate([{ role: 'user', content: trace.question }], { addGenerationPrompt: true });
}

/** Depth and width (paths) of every block of `plan`, in text order. */
export function blockShapes(plan: readonly PlanItem[]): BlockShape[] {
  return placedBlocks(plan).map(({ block, depth }) => ({ depth, width: block.paths.length }));
}

/**
 * The training record of `text` as the answer to `trace`: a converted text with its plan and the
 * curator's notes, or (plan undefined) the original reasoning as the sequential twin.
 * @throws MultiverseFormatError when the text breaks the tag grammar in tokens.
 */
export function curatedRecord(
  trace: Trace,
  text: string,
  plan: readonly PlanItem[] | undefined,
  tokenizer: Tokenizer,
  tagIds: MultiverseTagIds,
  curator?: CuratedRecord['curator'],
): CuratedRecord {
  const blocks = blockShapes(plan ?? []);
  return {
    id: trace.id,
    problem: trace.question,
    answer: /^-?\d+$/.test(trace.answer) ? Number(trace.answer) : trace.answer,
    parts: blocks.find((b) => b.depth === 1)?.width ?? 1,
    nested: blocks.some((b) => b.depth > 1),
    format: plan === undefined ? 'sequential' : 'multiverse',
    text,
    ...(curator === undefined ? {} : { curator }),
    ...trainingTokens(promptOf(trace, tokenizer), text, tokenizer, tagIds),
  };
}
