/**
 * Tiny random-weight checkpoints for engine tests, one per architecture and dtype, written once per
 * test process into a temp folder. Small enough that the float64 dense reference runs in moments.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Architecture, WeightDtype } from '../../src/model/config.js';
import { TINY, writeRandomCheckpoint, type RandomCheckpointOptions } from '../../src/testkit/random-checkpoint.js';

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
