/**
 * The tasks whose training data scripts/export-task-data.ts writes, behind one shape: each problem
 * of each split as its two training records, the Multiverse one and its sequential twin.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import type { MultiverseTagIds } from '../multiverse/tags.js';
import type { TrainingTokens } from '../multiverse/training-record.js';
import * as arithExport from './arith/export.js';
import type { ExampleFormat } from './arith/export.js';
import * as arithSplits from './arith/splits.js';
import type { Split, SplitSizes } from './arith/splits.js';
import * as countdownExport from './countdown/export.js';
import * as countdownSplits from './countdown/splits.js';

export const TASK_NAMES = ['arith', 'countdown'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** One problem's records in both formats. */
export type RecordPair = Record<ExampleFormat, TrainingTokens>;

export type TaskExamples = (sizes: SplitSizes, tokenizer: Tokenizer, tagIds: MultiverseTagIds) => Record<Split, RecordPair[]>;

function taskExamples<P>(
  buildSplits: (sizes: SplitSizes) => Record<Split, P[]>,
  exampleRecord: (problem: P, format: ExampleFormat, tokenizer: Tokenizer, tagIds: MultiverseTagIds) => TrainingTokens,
): TaskExamples {
  return (sizes, tokenizer, tagIds) => {
    const splits = buildSplits(sizes);
    const pairs = (list: P[]) =>
      list.map((p) => ({ multiverse: exampleRecord(p, 'multiverse', tokenizer, tagIds), sequential: exampleRecord(p, 'sequential', tokenizer, tagIds) }));
    return { train: pairs(splits.train), validation: pairs(splits.validation), test: pairs(splits.test) };
  };
}

export const TASK_EXAMPLES: Readonly<Record<TaskName, TaskExamples>> = {
  arith: taskExamples(arithSplits.buildSplits, arithExport.exampleRecord),
  countdown: taskExamples(countdownSplits.buildSplits, countdownExport.exampleRecord),
};

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}
