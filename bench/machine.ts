import os from 'node:os';
/** One line describing where a benchmark ran (shared with `multiverse bench`). */
export { machineLine } from '../src/cli/machine.js';

/** The 1, 5 and 15 minute load averages: how busy the shared machine was while a figure was taken. */
export function loadAverage(): string {
  return `load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`;
}
