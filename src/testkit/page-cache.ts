import { spawnSync } from 'node:child_process';

/**
 * Drops `file` from the page cache (GNU dd's `iflag=nocache` with `count=0` does so for a whole file),
 * so that the next reader brings it in from disk. How a file's pages were first cached decides how
 * much of it can be mapped as 2 MB pages (docs/kernels.md, weight file pages): a file just written
 * in small pieces stays in 4 KB folios. False where dd failed; pages another process maps stay.
 */
export function dropFromPageCache(file: string): boolean {
  return spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' }).status === 0;
}
