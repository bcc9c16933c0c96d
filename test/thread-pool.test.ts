/**
 * The engine's thread pool (native/common/thread_pool.h) against its contract, counted item by
 * item: every loop hands out each of its items exactly once, whatever the thread count and size
 * (fewer items than threads, one more than a thread's share, more than the 65535 grains a share word
 * holds), over many loops back to back (threads that wake late for an old loop must claim nothing
 * of a new one); an exception in one chunk reaches the caller, and the pool runs loops after it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../src/native/binding.js';

const native = loadNative();
const THREADS = [1, 2, 3, 5];
const SIZES = [1, 2, 3, 7, 17, 1000, 65535, 65536, 200_001];
const loopsFor = (n: number) => (n > 10_000 ? 20 : 300);

/**
 * For each [n, threads, loops], the items not handed out exactly `loops` times, from a child
 * process (`npm test` builds dist first): a pool that loses or repeats an item leaves its caller
 * waiting forever for the loop's count, and the timeout turns that into a failure, not a hang.
 */
function miscountedInChild(cases: Array<[number, number, number]>): number[][] {
  const binding = pathToFileURL(path.resolve('dist/src/native/binding.js')).href;
  const script = `
    const { loadNative } = await import(${JSON.stringify(binding)});
    const native = loadNative();
    const out = ${JSON.stringify(cases)}.map(([n, threads, loops]) => {
      const bad = [];
      native.threadPoolCover(n, threads, loops).counts.forEach((c, i) => { if (c !== loops) bad.push(i); });
      return bad.slice(0, 10);
    });
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`the pool's child process failed (a hang ends in a timeout): ${r.error?.message ?? ''} ${r.stderr}`);
  return JSON.parse(r.stdout) as number[][];
}

describe('thread pool', () => {
  const cases = THREADS.flatMap((threads) => SIZES.map((n): [number, number, number] => [n, threads, loopsFor(n)]));
  let miscounted: number[][] = [];
  beforeAll(() => {
    miscounted = miscountedInChild(cases);
  });

  cases.forEach(([n, threads, loops], i) =>
    it(`hands out each of ${n} items once per loop on ${threads} threads (${loops} loops)`, () => {
      expect(miscounted[i]).toEqual([]);
    }),
  );

  it('rethrows an exception from any chunk to the caller and keeps working', () => {
    for (const throwAt of [0, 499, 999]) {
      const { counts, error } = native.threadPoolCover(1000, 3, 50, throwAt);
      expect(error).toBe(`item ${throwAt} failed`);
      expect(counts.every((c) => c === 50)).toBe(true);
    }
  });

  it('refuses arguments it cannot honour with a clear error', () => {
    expect(() => native.threadPoolCover(0, 2, 1)).toThrow(/n must be an integer/);
    expect(() => native.threadPoolCover(10, 2, 1, 1.5)).toThrow(/throwAt must be an integer/);
  });
});
