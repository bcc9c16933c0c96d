/** The generated checkpoints the benchmarks run on, written once under .cache/. */
import fs from 'node:fs';
import path from 'node:path';
import { writeRandomCheckpoint, type RandomCheckpointOptions } from '../src/testkit/random-checkpoint.js';

const log = (s: string) => process.stderr.write(`${s}\n`);

/** The folder .cache/<name>, written from `options` unless it already holds a config.json. */
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
