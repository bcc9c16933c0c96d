/**
 * Tiny random-weight checkpoints for engine tests, one per architecture and dtype, written once per
 * test process into a temp folder. Small enough that the float64 dense reference runs in moments.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Architecture, WeightDtype } from '../../src/model/config.js';
import { TINY, writeRandomCheckpoint, type RandomCheckpointOptions } from '../../src/testkit/random-checkpoint.js';
import { MULTIVERSE_TAGS } from '../../src/multiverse/tags.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-models-'));
const made = new Map<string, string>();

/** Folder of the tiny model for this architecture and dtype (qwen2 has biases; llama ties embeddings). */
export function tinyModel(architecture: Architecture, dtype: WeightDtype, overrides: Partial<RandomCheckpointOptions> = {}): string {
  const key = JSON.stringify([architecture, dtype, overrides]);
  let dir = made.get(key);
  if (!dir) {
    dir = path.join(root, `${architecture}-${dtype}-${made.size}`);
    writeRandomCheckpoint(dir, {
      ...TINY,
      architecture,
      dtype,
      seed: architecture === 'qwen2' ? 11 : 12,
      tieWordEmbeddings: architecture === 'llama',
      ...overrides,
    });
    made.set(key, dir);
  }
  return dir;
}

/**
 * A copy of the tiny qwen2 model whose tokenizer lacks the Multiverse tags: the model then writes
 * them as plain text, several tokens each, as a model without Multiverse training would.
 */
export function tinyModelWithoutTags(): string {
  const src = tinyModel('qwen2', 'F32');
  const dir = `${src}-no-tags`;
  if (fs.existsSync(dir)) return dir;
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const isTag = (content: string) => MULTIVERSE_TAGS.includes(content as never);
  const tok = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  tok.added_tokens = tok.added_tokens.filter((t: { content: string }) => !isTag(t.content));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  cfg.added_tokens_decoder = Object.fromEntries(Object.entries(cfg.added_tokens_decoder).filter(([, t]) => !isTag((t as { content: string }).content)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
  return dir;
}
