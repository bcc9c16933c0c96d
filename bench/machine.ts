/** One line describing where a benchmark ran (shared with `multiverse bench`). */
export { machineLine } from '../src/cli/machine.js';
