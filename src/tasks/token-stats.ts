/**
 * How much a task's Multiverse format can save, measured on the converted data with the tokenizer the
 * models use: the answer tokens of the sequential (AR) solution, the Multiverse solution's total
 * tokens and its critical path (the sequential length: the last token's position id + 1, positions
 * from multiverseLayout), their ratio (the most a step-bound decoder can gain), and # parallel
 * (total ÷ critical path, the paper's degree).
 */
import type { TrainingTokens } from '../multiverse/training-record.js';

export interface TokenStats {
  problems: number;
  /** Means per problem, answer tokens only (`<|im_end|>` included, the prompt left out). */
  meanArTokens: number;
  meanMvTotalTokens: number;
  meanMvCriticalPath: number;
  /** Σ AR tokens ÷ Σ Multiverse critical path. */
  criticalPathRatio: number;
  /** Σ Multiverse total ÷ Σ Multiverse critical path. */
  parallelism: number;
}

/** Answer tokens of a record. */
function answerTokens(r: TrainingTokens): number {
  return r.ids.length - r.prompt_len;
}

/** Decode steps from the prompt's end to the last token: its position id past the prompt's. */
export function criticalPathTokens(r: TrainingTokens): number {
  return (r.positions.at(-1) as number) + 1 - r.prompt_len;
}

/** Statistics over pairs of records of the same problems: the sequential one and the Multiverse one. */
export function tokenStats(pairs: readonly { sequential: TrainingTokens; multiverse: TrainingTokens }[]): TokenStats {
  const sum = (f: (p: (typeof pairs)[number]) => number) => pairs.reduce((s, p) => s + f(p), 0);
  const ar = sum((p) => answerTokens(p.sequential));
  const total = sum((p) => answerTokens(p.multiverse));
  const critical = sum((p) => criticalPathTokens(p.multiverse));
  return {
    problems: pairs.length,
    meanArTokens: ar / pairs.length,
    meanMvTotalTokens: total / pairs.length,
    meanMvCriticalPath: critical / pairs.length,
    criticalPathRatio: ar / critical,
    parallelism: total / critical,
  };
}
