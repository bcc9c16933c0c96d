/**
 * The model `multiverse run` uses when no --model is given. Until a trained Multiverse model ships,
 * it is a small random-weight Qwen2 checkpoint generated from a fixed seed on first use (it speaks
 * gibberish, but exercises the whole path: tokenizer, chat template, engine, sampling).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TINY, writeRandomCheckpoint } from '../testkit/random-checkpoint.js';

/** The package root: two levels above this file in src/ or dist/src/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the multiverse-rx package root');
    dir = up;
  }
  return dir;
}

/** Path of the default model folder, generating it first when missing. */
export function defaultModelDir(log: (line: string) => void): string {
  const dir = path.join(packageRoot(), '.cache', 'default-model');
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    log(`generating the default model (random weights, seed ${TINY.seed}) in ${dir}`);
    const tmp = `${dir}.tmp-${process.pid}`;
    writeRandomCheckpoint(tmp, TINY);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  }
  return dir;
}
