/**
 * Exports the arithmetic task's training data (src/tasks/arith/export.ts has the JSONL schema):
 *
 *   node dist/scripts/export-arith-data.js OUT_DIR [--train N] [--validation N] [--test N]
 *
 * writes OUT_DIR/tokenizer.json and tokenizer_config.json (the project's test tokenizer: byte-level
 * BPE, digits split one by one, ChatML and the 12 tags as added tokens), OUT_DIR/meta.json (ids the
 * trainer needs, record counts), and OUT_DIR/{multiverse,sequential}/{train,validation,test}.jsonl.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { resolveTagIds } from '../src/multiverse/tags.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';
import { END_OF_TURN, exampleRecord, type ExampleFormat } from '../src/tasks/arith/export.js';
import { buildSplits, type Split } from '../src/tasks/arith/splits.js';

const USAGE = 'usage: export-arith-data OUT_DIR [--train N] [--validation N] [--test N]';
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

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { train: { type: 'string' }, validation: { type: 'string' }, test: { type: 'string' } },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) fail('expected exactly one OUT_DIR');
  const out = positionals[0];
  const sizes = {
    train: count(values.train, 40000, '--train'),
    validation: count(values.validation, 500, '--validation'),
    test: count(values.test, 1000, '--test'),
  };

  fs.mkdirSync(out, { recursive: true });
  const files = buildTokenizerFiles(TINY.bpeVocabSize);
  writeTokenizerFiles(out, files);
  const tokenizer = await loadTokenizer(out);
  const tagIds = resolveTagIds((text) => tokenizer.tokenId(text));
  if (tagIds === undefined) throw new Error('the tokenizer lacks the Multiverse tags');

  const splits = buildSplits(sizes);
  const tokens: Record<string, number> = {};
  for (const format of FORMATS) {
    fs.mkdirSync(path.join(out, format), { recursive: true });
    for (const split of Object.keys(splits) as Split[]) {
      const lines = splits[split].map((problem) => exampleRecord(problem, format, tokenizer, tagIds));
      tokens[`${format}/${split}`] = lines.reduce((n, r) => n + r.ids.length, 0);
      fs.writeFileSync(path.join(out, format, `${split}.jsonl`), lines.map((r) => JSON.stringify(r)).join('\n') + '\n');
    }
  }
  const meta = {
    tokenizer_size: files.size,
    eos_token_id: tokenizer.tokenId(END_OF_TURN),
    pad_token_id: tokenizer.tokenId('<|endoftext|>'),
    tag_ids: tagIds,
    sizes,
    tokens,
  };
  fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  process.stdout.write(`${out}: ${JSON.stringify(meta.tokens)}\n`);
}

await main();
