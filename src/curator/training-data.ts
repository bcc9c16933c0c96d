/**
 * A training folder in the layout train/ reads (the one scripts/export-task-data.ts writes):
 * tokenizer.json and tokenizer_config.json, meta.json, and multiverse/ and sequential/ each with
 * train.jsonl and validation.jsonl. The sequential twin of each record is its original reasoning,
 * so train/run.sh trains a Multiverse model and its autoregressive twin on the same traces.
 * Every tenth record (the 10th, 20th, …; the last one when there are fewer than ten) is held out
 * for validation.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Tokenizer } from '../model/tokenizer.js';
import { END_OF_TURN } from '../multiverse/training-record.js';
import { curatedRecord, type CuratedRecord } from './record.js';
import { trainingTagIds } from './run.js';
import type { Trace } from './trace.js';

function isValidation(index: number, count: number): boolean {
  return count < 10 ? count > 1 && index === count - 1 : index % 10 === 9;
}

/**
 * Writes `dir` from the curated `records`, with the sequential twins from `traces` (by id) and the
 * tokenizer files of `tokenizerDir`. @throws CurateError TOKENIZER_ERROR for a tokenizer unfit for training.
 */
export function writeTrainingData(dir: string, records: readonly CuratedRecord[], traces: readonly Trace[], tokenizer: Tokenizer, tokenizerDir: string): void {
  const tagIds = trainingTagIds(tokenizer);
  const byId = new Map(traces.map((t) => [t.id, t]));
  const formats = {
    multiverse: records,
    sequential: records.map((r) => {
      const trace = byId.get(r.id);
      if (trace === undefined) throw new Error(`record ${r.id} has no trace in the input`);
      return curatedRecord(trace, trace.reasoning, undefined, tokenizer, tagIds);
    }),
  };
  fs.mkdirSync(dir, { recursive: true });
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokenizerDir, name), path.join(dir, name));
  const tokens: Record<string, number> = {};
  for (const [format, list] of Object.entries(formats)) {
    fs.mkdirSync(path.join(dir, format), { recursive: true });
    const splits = { train: list.filter((_, i) => !isValidation(i, list.length)), validation: list.filter((_, i) => isValidation(i, list.length)) };
    for (const [split, lines] of Object.entries(splits)) {
      tokens[`${format}/${split}`] = lines.reduce((n, r) => n + r.ids.length, 0);
      fs.writeFileSync(path.join(dir, format, `${split}.jsonl`), lines.map((r) => `${JSON.stringify(r)}\n`).join(''));
    }
  }
  const eos = tokenizer.tokenId(END_OF_TURN) as number;
  const validation = records.filter((_, i) => isValidation(i, records.length)).length;
  const meta = {
    tokenizer_size: tokenizer.vocabSize,
    eos_token_id: eos,
    pad_token_id: tokenizer.tokenId('<|endoftext|>') ?? eos,
    tag_ids: tagIds,
    sizes: { train: records.length - validation, validation, test: 0 },
    tokens,
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}
