/**
 * Progress on stderr for work that reports none of its own. Loading a model is such work: its
 * steps (headers, tokenizer, mapping the weights natively) give no progress, and the native part
 * is one synchronous call during which no timer could redraw a bar. So instead of a bar that
 * would only pretend, one line: what is starting, then how it ended and how long it took.
 */

/**
 * Writes `label …`, runs `work`, then completes the line with `summary(result) in N ms`, or with
 * `failed` before the error propagates (so the error message starts on a line of its own).
 */
export async function reportDuration<T>(label: string, work: () => Promise<T>, summary: (result: T) => string): Promise<T> {
  process.stderr.write(`${label} … `);
  const started = performance.now();
  let result: T;
  try {
    result = await work();
  } catch (err) {
    process.stderr.write('failed\n');
    throw err;
  }
  process.stderr.write(`${summary(result)} in ${Math.round(performance.now() - started)} ms\n`);
  return result;
}

/**
 * A progress bar on stderr when it is a terminal (redrawn in place), nothing otherwise, so logs and
 * pipes stay clean. `update` redraws; `end` finishes the line.
 */
export function progressBar(label: string): { update(done: number, total: number): void; end(): void } {
  if (!process.stderr.isTTY) return { update() {}, end() {} };
  const width = 30;
  let drawn = false;
  return {
    update(done, total) {
      const filled = total === 0 ? width : Math.round((width * done) / total);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`);
      drawn = true;
    },
    end() {
      if (drawn) process.stderr.write('\n');
    },
  };
}
