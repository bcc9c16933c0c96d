/**
 * Engine-level measurements straight on the native engine (no sampling, no Observables): prefill,
 * batched decode, fork/merge latency. Each returns numbers; bench.ts prints them.
 */
import type { NativeEngine } from '../src/native/binding.js';
import { median } from './table.js';

import { seqRange, tokens } from '../src/cli/bench-measure.js';

export { decodeTokensPerSecond, prefillTokensPerSecond } from '../src/cli/bench-measure.js';

/** Fills a sequence with `length` tokens, stepping `chunk` at a time without asking for logits. */
export async function fillSequence(engine: NativeEngine, length: number, chunk: number, onProgress?: (done: number) => void): Promise<number> {
  const seq = engine.createSequence();
  for (let at = 0; at < length; at += chunk) {
    const n = Math.min(chunk, length - at);
    await engine.step([{ seq, tokens: tokens(n, at), positions: seqRange(at, n), logits: 'none' }]);
    onProgress?.(at + n);
  }
  return seq;
}

/**
 * Median microseconds of fork(seq, 2) and of merge(seq, children) over `reps` rounds. The forks run
 * back to back, then one step gives every child a token of its own, then the merges run back to
 * back: timing them apart from the steps keeps a 30k-token attention pass from evicting the
 * metadata from cache and billing that to the next fork.
 */
export async function forkMergeMicros(engine: NativeEngine, seq: number, reps: number): Promise<{ fork: number; merge: number }> {
  const forks: number[] = [];
  const merges: number[] = [];
  const pairs: number[][] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    pairs.push(engine.fork(seq, 2));
    forks.push(performance.now() - t0);
  }
  const n = engine.sequenceLength(seq);
  await engine.step(pairs.flat().map((c, i) => ({ seq: c, tokens: Int32Array.of(i % 500), positions: Int32Array.of(n), logits: 'none' as const })));
  const merged: number[] = [];
  for (const children of pairs) {
    const t0 = performance.now();
    merged.push(engine.merge(seq, children));
    merges.push(performance.now() - t0);
  }
  for (const s of [...pairs.flat(), ...merged]) engine.release(s);
  return { fork: median(forks) * 1000, merge: median(merges) * 1000 };
}
