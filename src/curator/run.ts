/**
 * A whole curation: the traces not done yet go through curateTrace, `concurrency` at a time; each
 * result is appended, in input order, to --out (a training record) or to the .rejected.jsonl file
 * beside it (why it was rejected). With `resume`, the ids already in either file are skipped, so a
 * killed run continues where it stopped and ends with the same files as an uninterrupted one.
 */
import fs from 'node:fs';
import type { Tokenizer } from '../model/tokenizer.js';
import { MultiverseFormatError } from '../multiverse/attention.js';
import { resolveTagIds, type MultiverseTagIds } from '../multiverse/tags.js';
import { END_OF_TURN } from '../multiverse/training-record.js';
import type { ChatClient } from './chat-client.js';
import { curateTrace } from './curate-trace.js';
import { CurateError } from './errors.js';
import { JsonlAppender, readForResume, readRecords } from './jsonl-file.js';
import { forEachOrdered } from './ordered-pool.js';
import { STAGE_NAMES, type Prompts } from './prompts.js';
import { blockShapes, curatedRecord, type CuratedRecord, type RejectedRecord } from './record.js';
import { buildReport, type CurationReport } from './report.js';
import type { Trace } from './trace.js';

export interface CurateOptions {
  traces: readonly Trace[];
  /** The training records' file; rejections go to rejectedPath(out). */
  out: string;
  /** Continue the files of an earlier run instead of refusing to touch them. */
  resume: boolean;
  chat: ChatClient;
  prompts: Prompts;
  tokenizer: Tokenizer;
  /** Traces in flight at once (default 4). */
  concurrency?: number;
  /** Called after each trace is written, and once at the start with what resuming skipped. */
  onProgress?: (done: number, total: number) => void;
}

/** Where the rejections of `out` go: `multiverse.jsonl` → `multiverse.rejected.jsonl`. */
export function rejectedPath(out: string): string {
  return `${out.replace(/\.jsonl$/, '')}.rejected.jsonl`;
}

/** The tag ids of a tokenizer fit for training records. @throws CurateError TOKENIZER_ERROR. */
export function trainingTagIds(tokenizer: Tokenizer): MultiverseTagIds {
  const tagIds = resolveTagIds((text) => tokenizer.tokenId(text));
  if (tagIds === undefined) throw new CurateError('TOKENIZER_ERROR', 'the tokenizer lacks the Multiverse tags (<Parallel>, <Goal>, <Path>, …) as added tokens');
  if (tokenizer.tokenId(END_OF_TURN) === undefined) throw new CurateError('TOKENIZER_ERROR', `the tokenizer has no ${END_OF_TURN} token: training records need a ChatML tokenizer`);
  return tagIds;
}

/** Both output files read back: the training records and the rejections. */
export function readOutputs(out: string): { records: CuratedRecord[]; rejected: RejectedRecord[] } {
  return { records: readRecords(out) as unknown as CuratedRecord[], rejected: readRecords(rejectedPath(out)) as unknown as RejectedRecord[] };
}

/**
 * Curates the traces not yet in the output files and returns the report over both files.
 * @throws CurateError when the endpoint fails for good (what was written stays valid) or the output exists without `resume`.
 */
export async function curate(options: CurateOptions): Promise<CurationReport> {
  const { out, tokenizer, chat, prompts } = options;
  const tagIds = trainingTagIds(tokenizer);
  const rejectedFile = rejectedPath(out);
  if (!options.resume && (fs.existsSync(out) || fs.existsSync(rejectedFile))) {
    throw new CurateError('OUTPUT_ERROR', `${fs.existsSync(out) ? out : rejectedFile} exists: pass --resume to continue it, or remove it`);
  }
  const done = new Set([...readForResume(out), ...readForResume(rejectedFile)].map((r) => String(r.id)));
  const todo = options.traces.filter((t) => !done.has(t.id));
  const versions = [...STAGE_NAMES.map((s) => prompts.stages[s].version), prompts.repair.version];
  const total = options.traces.length;
  let written = total - todo.length;
  options.onProgress?.(written, total);

  const records = new JsonlAppender(out);
  const rejections = new JsonlAppender(rejectedFile);
  try {
    await forEachOrdered(
      todo,
      options.concurrency ?? 4,
      async (trace): Promise<CuratedRecord | RejectedRecord> => {
        const outcome = await curateTrace(chat, prompts, trace);
        if (outcome.status === 'rejected') return { id: trace.id, stage: outcome.stage, problems: outcome.problems };
        try {
          return curatedRecord(trace, outcome.text, outcome.plan, tokenizer, tagIds, { status: outcome.status, prompts: versions, blocks: blockShapes(outcome.plan) });
        } catch (err) {
          if (!(err instanceof MultiverseFormatError)) throw err;
          return { id: trace.id, stage: 'verify/grammar', problems: [`the text breaks the grammar once tokenized: ${err.message}`] };
        }
      },
      (result) => {
        ('stage' in result ? rejections : records).append(result);
        options.onProgress?.(++written, total);
      },
    );
  } finally {
    records.close();
    rejections.close();
  }
  const outputs = readOutputs(out);
  return buildReport(outputs.records, outputs.rejected);
}
