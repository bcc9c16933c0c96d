import os from 'node:os';
import { fileMappings } from '../src/testkit/file-mappings.js';
/** One line describing where a benchmark ran (shared with `multiverse bench`). */
export { machineLine } from '../src/cli/machine.js';

/** The 1, 5 and 15 minute load averages: how busy the shared machine was while a figure was taken. */
export function loadAverage(): string {
  return `load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`;
}

/**
 * The share of `file`'s resident pages that this process maps as 2 MB pages, or undefined where
 * nothing of it is resident. The page cache decides it, not the engine that maps the file
 * (docs/kernels.md, weight file pages), so in bench:peer it holds for both engines.
 */
export function hugePageShare(file: string): number | undefined {
  const maps = fileMappings(file);
  const resident = maps.reduce((n, m) => n + m.residentBytes, 0);
  return resident > 0 ? maps.reduce((n, m) => n + m.hugePageBytes, 0) / resident : undefined;
}
