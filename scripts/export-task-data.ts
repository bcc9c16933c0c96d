/**
 * Exports a task's training data (src/tasks/arith/export.ts has the JSONL schema, and
 * src/tasks/countdown/export.ts the Countdown fields):
 *
 *   node dist/scripts/export-task-data.js OUT_DIR [--task arith|countdown] [--train N] [--validation N] [--test N]
 *
 * writes OUT_DIR/tokenizer.json and tokenizer_config.json (the project's test tokenizer: byte-level
 * BPE, digits split one by one, ChatML and the 12 tags as added tokens), OUT_DIR/meta.json (ids the
 * trainer needs, record counts, the task, and the token statistics of the test split), and
 * OUT_DIR/{multiverse,sequential}/{train,validation,test}.jsonl.
 *
 *   node dist/scripts/export-task-data.js --stats [--task countdown] [--test N]
 *
 * prints only the token statistics (src/tasks/token-stats.ts) of the first N test problems.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { resolveTagIds } from '../src/multiverse/tags.js';
import { END_OF_TURN, type ExampleFormat } from '../src/tasks/arith/export.js';
import type { Split } from '../src/tasks/arith/splits.js';
import { isTaskName, TASK_EXAMPLES, TASK_NAMES } from '../src/tasks/task-data.js';
import { tokenStats, type TokenStats } from '../src/tasks/token-stats.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';

const USAGE = `usage: export-task-data OUT_DIR [--task ${TASK_NAMES.join('|')}] [--train N] [--validation N] [--test N]\n       export-task-data --stats [--task ${TASK_NAMES.join('|')}] [--test N]`;
const FORMATS: readonly ExampleFormat[] = ['multiverse', 'sequential'];

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) fail(`${flag} must be a non-negative integer, got ${value}`);
  return Number(value);
}

function statsLine(task: string, s: TokenStats): string {
  return (
    `${task}, ${s.problems} test problems: AR ${s.meanArTokens.toFixed(1)} tokens, Multiverse ${s.meanMvTotalTokens.toFixed(1)} in all, ` +
    `critical path ${s.meanMvCriticalPath.toFixed(1)}; critical-path ratio ${s.criticalPathRatio.toFixed(2)}, # parallel ${s.parallelism.toFixed(2)}\n`
  );
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        task: { type: 'string', default: 'arith' },
        stats: { type: 'boolean', default: false },
        train: { type: 'string' },
        validation: { type: 'string' },
        test: { type: 'string' },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { values, positionals } = parsed;
  const task = values.task as string;
  if (!isTaskName(task)) fail(`unknown task ${task}`);
  if (positionals.length !== (values.stats ? 0 : 1)) fail(values.stats ? '--stats takes no OUT_DIR' : 'expected exactly one OUT_DIR');
  const sizes = values.stats
    ? { train: 0, validation: 0, test: count(values.test, 1000, '--test') }
    : {
        train: count(values.train, 40000, '--train'),
        validation: count(values.validation, 500, '--validation'),
        test: count(values.test, 1000, '--test'),
      };
  const out = values.stats ? fs.mkdtempSync(path.join(os.tmpdir(), 'task-stats-')) : positionals[0];

  fs.mkdirSync(out, { recursive: true });
  const files = buildTokenizerFiles(TINY.bpeVocabSize);
  writeTokenizerFiles(out, files);
  const tokenizer = await loadTokenizer(out);
  const tagIds = resolveTagIds((text) => tokenizer.tokenId(text));
  if (tagIds === undefined) throw new Error('the tokenizer lacks the Multiverse tags');

  const examples = TASK_EXAMPLES[task](sizes, tokenizer, tagIds);
  const stats = tokenStats(examples.test);
  if (values.stats) {
    fs.rmSync(out, { recursive: true, force: true });
    process.stdout.write(statsLine(task, stats));
    return;
  }
  const tokens: Record<string, number> = {};
  for (const format of FORMATS) {
    fs.mkdirSync(path.join(out, format), { recursive: true });
    for (const split of Object.keys(examples) as Split[]) {
      const lines = examples[split].map((pair) => pair[format]);
      tokens[`${format}/${split}`] = lines.reduce((n, r) => n + r.ids.length, 0);
      fs.writeFileSync(path.join(out, format, `${split}.jsonl`), lines.map((r) => JSON.stringify(r)).join('\n') + '\n');
    }
  }
  const meta = {
    task,
    tokenizer_size: files.size,
    eos_token_id: tokenizer.tokenId(END_OF_TURN),
    pad_token_id: tokenizer.tokenId('<|endoftext|>'),
    tag_ids: tagIds,
    sizes,
    tokens,
    test_token_stats: stats,
  };
  fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  process.stdout.write(`${out}: ${JSON.stringify(meta.tokens)}\n${statsLine(task, stats)}`);
}

await main();
