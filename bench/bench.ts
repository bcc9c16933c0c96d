/**
 * `npm run bench`: engine throughput on a generated ~150M-parameter Qwen2 checkpoint (random
 * weights, f32), written once to .cache/bench-150m.
 *
 *   npm run bench                 # full table
 *   npm run bench -- --quick      # fewer repetitions
 *
 * Prints the machine, then prefill tokens/s (512-token prompt; plus the chosen kernels against the
 * portable ones on a 64-token prompt as a same-run peer), decode tokens/s at 1, 4 and 16 sequences per
 * step, 16 concurrent requests with forks against the same requests one after another, fork/merge
 * latency at prefix lengths 100, 10k and 30k, and peak memory.
 */
import { openCheckpoint } from '../src/model/checkpoint.js';
import { loadNative, type NativeEngine } from '../src/native/binding.js';
import { BENCH_150M, TINY } from '../src/testkit/random-checkpoint.js';
import { loadModel } from '../src/facade/load-model.js';
import { ensureModel } from './bench-model.js';
import { concurrentVsSequential } from './concurrency-bench.js';
import { decodeTokensPerSecond, fillSequence, forkMergeMicros, prefillTokensPerSecond } from './engine-bench.js';
import { machineLine } from './machine.js';
import { formatTable } from './table.js';

const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(`${s}\n`);

async function engineOn(dir: string, kvSlots: number, kernels: 'auto' | 'portable'): Promise<{ engine: NativeEngine; params: number }> {
  const ck = await openCheckpoint(dir);
  const engine = new (loadNative().Engine)({ ...ck.config, kvSlots, threads: 0, kernels, tensors: ck.tensors });
  return { engine, params: ck.parameterCount };
}

async function main(): Promise<void> {
  const reps = quick ? 3 : 5;
  console.log(`machine: ${machineLine()}`);
  const dir = ensureModel('bench-150m', BENCH_150M);
  const { engine, params } = await engineOn(dir, 4096, 'auto');
  console.log(`model: ${dir} (qwen2, ${(params / 1e6).toFixed(1)}M params, f32), kernels ${engine.backend}\n`);

  const rows: string[][] = [];
  log('prefill 512 ...');
  rows.push(['prefill, 512-token prompt', `${(await prefillTokensPerSecond(engine, 512, reps)).toFixed(0)} tok/s`, '']);
  log('prefill peers ...');
  const avx = await prefillTokensPerSecond(engine, 64, reps);
  const portable = await engineOn(dir, 256, 'portable');
  const plain = await prefillTokensPerSecond(portable.engine, 64, quick ? 1 : 3);
  portable.engine.dispose();
  rows.push([`prefill, 64 tokens, ${engine.backend} vs portable`, `${avx.toFixed(0)} vs ${plain.toFixed(0)} tok/s`, `${(avx / plain).toFixed(1)}x`]);
  let single = 0;
  for (const batch of [1, 4, 16]) {
    log(`decode x${batch} ...`);
    const tps = await decodeTokensPerSecond(engine, batch, 128, quick ? 8 : 16);
    if (batch === 1) single = tps;
    rows.push([`decode, ${batch} sequence${batch > 1 ? 's' : ''} per step (128-token context)`, `${tps.toFixed(1)} tok/s`, `${(tps / single).toFixed(2)}x of 1`]);
  }
  engine.dispose();

  log('16 concurrent forking requests vs one after another ...');
  const model = await loadModel(dir, { kvSlots: 8192, contextLength: 1024 });
  const c = await concurrentVsSequential(model, 16);
  await model.dispose();
  const together = c.tokens / c.concurrentSeconds;
  const apart = c.tokens / c.sequentialSeconds;
  rows.push([
    `${c.requests} requests x 4-path fork (# parallel ${c.parallelism.toFixed(2)}), one step loop`,
    `${together.toFixed(1)} vs ${apart.toFixed(1)} tok/s sequential`,
    `${(together / apart).toFixed(2)}x`,
  ]);

  // Fork/merge touch segment metadata only. Filling 30k tokens through the 150M model would take
  // many minutes of prefill on two cores, so the prefixes are built with the 2-layer test model.
  log('fork/merge ...');
  const tiny = await engineOn(ensureModel('bench-tiny-32k', { ...TINY, maxPositionEmbeddings: 32768 }), 32768, 'auto');
  for (const prefix of [100, 10_000, 30_000]) {
    const seq = await fillSequence(tiny.engine, prefix, 1024);
    const { fork, merge } = await forkMergeMicros(tiny.engine, seq, quick ? 50 : 200);
    rows.push([`fork (2 children) / merge, prefix ${prefix}`, `${fork.toFixed(1)} / ${merge.toFixed(1)} µs`, '']);
    tiny.engine.release(seq);
  }
  tiny.engine.dispose();
  rows.push(['peak resident memory', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`, '']);
  console.log(formatTable(['measure', 'value', 'ratio'], rows));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
