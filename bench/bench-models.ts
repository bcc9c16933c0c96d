/** The generated benchmark checkpoints, written once under .cache/ and reused. */
import fs from 'node:fs';
import path from 'node:path';
import { writeRandomCheckpoint, type RandomCheckpointOptions } from '../src/testkit/random-checkpoint.js';

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Folder .cache/<name> holding the checkpoint for `options`, written with progress on first use. */
export function ensureModel(name: string, options: RandomCheckpointOptions): string {
  const dir = path.resolve('.cache', name);
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    log(`writing ${name} to ${dir} ...`);
    let last = -1;
    writeRandomCheckpoint(dir, {
      ...options,
      onProgress: (written, total) => {
        const pct = Math.floor((100 * written) / total);
        if (pct >= last + 10) log(`  ${(last = pct)}%`);
      },
    });
  }
  return dir;
}
