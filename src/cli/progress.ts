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
