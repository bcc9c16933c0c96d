/**
 * `npm run bench:kernels`: the engine's speed by weight dtype on the generated ~150M Qwen2 (f32 and
 * f16 checkpoints, and Q8_0 / Q4_K copies of its matrices as random blocks in a raw file, written
 * once to .cache/), and how close decode comes to the memory's bandwidth.
 *
 *   npm run bench:kernels -- [--quick] [--long] [--before path/to/an/older/multiverse_native.node]
 *
 * Per dtype: prefill of a 512-token prompt, decode at 1 and 4 sequences per step (128-token
 * context; with --long also 1 sequence at a 4096-token context), each the median of alternating
 * passes. With --before, an older build of the addon runs the same figures in the same passes,
 * turn about, so a shared machine's noise hits both alike (block formats: this build only). Bandwidth
 * fraction: bandwidthFraction in src/cli/bench-measure.ts (the bytes a decode step streams, weights and f16 K/V, x
 * steps/s ÷ STREAM triad on the engine's thread count, here all cores; the best of probes before
 * each model and at the end), as `multiverse bench` and bench:peer report it.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint } from '../src/model/checkpoint.js';
import type { ModelConfig } from '../src/model/config.js';
import { loadNative, type NativeAddon, type NativeDtype, type NativeTensorRef } from '../src/native/binding.js';
import { BLOCK, randomWeightBytes } from '../src/testkit/random-blocks.js';
import { BENCH_150M } from '../src/testkit/random-checkpoint.js';
import { ensureModel } from './bench-model.js';
import { bandwidthFraction, bestBounds, decodeStepBytes, decodeWeightBytes, gigabytesPerSecond, kvBytesPerToken, memoryBounds, percent } from '../src/cli/bench-measure.js';
import { decodeTokensPerSecond, prefillTokensPerSecond } from './engine-bench.js';
import { loadAverage, machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const long = args.includes('--long');
const beforeAt = args.indexOf('--before');
const threads = os.availableParallelism();
const log = (s: string) => process.stderr.write(`${s}\n`);
/** The decode figures' contexts (tokens already in each sequence). */
const CONTEXT = 128, LONG_CONTEXT = 4096;

interface Build {
  label: string;
  addon: NativeAddon;
  /** The kernel set the build picked, once seen. */
  backend?: string;
}

interface BenchModel {
  config: ModelConfig;
  tensors: NativeTensorRef[];
}

/** The f32 bench model with every matrix replaced by random `dtype` blocks in .cache/<name>.bin. */
function blockModel(base: BenchModel, dtype: NativeDtype): BenchModel {
  const file = path.resolve('.cache', `bench-150m-${dtype.toLowerCase()}.bin`);
  const matrices = base.tensors.filter((t) => t.shape.length === 2);
  const write = !fs.existsSync(file);
  if (write) log(`writing ${file} ...`);
  const fd = write ? fs.openSync(file, 'w') : -1;
  let offset = 0;
  const tensors = base.tensors.map((t, i) => {
    if (!matrices.includes(t)) return t;
    const [rows, cols] = t.shape;
    const bytes = write ? randomWeightBytes(dtype, rows, cols, i, 0.05) : undefined;
    const byteLength = (rows * cols * BLOCK[dtype].bytes) / BLOCK[dtype].elems;
    if (bytes) fs.writeSync(fd, bytes);
    offset += byteLength;
    return { ...t, file, offset: offset - byteLength, byteLength, dtype };
  });
  if (write) fs.closeSync(fd);
  return { config: base.config, tensors };
}

/** Tokens/s figures of one engine build on one model; empty when the build cannot load it. */
async function figures(build: Build, m: BenchModel): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let engine;
  try {
    engine = new build.addon.Engine({ ...m.config, kvSlots: long ? 4352 : 1024, threads, kernels: 'auto', tensors: m.tensors });
  } catch {
    return out; // an older build without the block formats
  }
  build.backend = engine.backend;
  try {
    out.set('prefill 512', await prefillTokensPerSecond(engine, 512, 1));
    out.set('decode x1', await decodeTokensPerSecond(engine, 1, CONTEXT, quick ? 8 : 16));
    out.set('decode x4', await decodeTokensPerSecond(engine, 4, CONTEXT, quick ? 8 : 16));
    if (long) {
      out.set('decode x1, 4k context', await decodeTokensPerSecond(engine, 1, LONG_CONTEXT, 8));
    }
    return out;
  } finally {
    engine.dispose();
  }
}

async function main(): Promise<void> {
  const native = loadNative();
  const builds: Build[] = [{ label: 'this build', addon: native }];
  if (beforeAt >= 0) {
    const file = path.resolve(args[beforeAt + 1]);
    builds.unshift({ label: 'before', addon: createRequire(import.meta.url)(file) as NativeAddon });
  }
  console.log(`machine: ${machineLine()}, ${threads} threads (shared with other jobs: figures are medians of alternating passes); ${loadAverage()} at the start`);
  // The machine's bandwidth is the best seen: probed before each model, since other jobs come and go.
  let bounds = { triad: 0, read: 0 };
  const probe = () => (bounds = bestBounds(bounds, memoryBounds(native, threads)));
  const passes = quick ? 3 : 5;
  const rows: string[][] = [];
  const f32 = await openCheckpoint(ensureModel('bench-150m', BENCH_150M));
  const models: [string, BenchModel][] = [
    ['F32', f32],
    ['F16', await openCheckpoint(ensureModel('bench-150m-f16', { ...BENCH_150M, dtype: 'F16' }))],
    ['Q8_0', blockModel(f32, 'Q8_0')],
    ['Q4_K', blockModel(f32, 'Q4_K')],
  ];
  for (const [dtype, ck] of models) {
    probe();
    const runs = builds.map(() => new Map<string, number[]>());
    for (let p = 0; p < passes; p++) {
      for (let b = 0; b < builds.length; b++) {
        log(`${dtype} pass ${p + 1}/${passes}: ${builds[b].label} ...`);
        for (const [k, v] of await figures(builds[b], ck)) runs[b].set(k, [...(runs[b].get(k) ?? []), v]);
      }
    }
    const weights = decodeWeightBytes(ck.tensors, ck.config.tieWordEmbeddings);
    const kvPerToken = kvBytesPerToken(ck.config, 'f16');
    for (const figure of runs[runs.length - 1].keys()) {
      const perBuild = runs.map((r) => (r.has(figure) ? median(r.get(figure)!) : NaN));
      const now = perBuild[perBuild.length - 1];
      const sequences = figure.startsWith('decode x4') ? 4 : 1;
      const bytes = decodeStepBytes(weights, kvPerToken, figure.includes('4k') ? LONG_CONTEXT : CONTEXT, sequences);
      const fraction = figure.startsWith('decode') ? percent(bandwidthFraction(bytes, now / sequences, bounds.triad)) : '';
      rows.push([
        `${dtype} ${figure}`,
        ...perBuild.map((v) => (Number.isNaN(v) ? '—' : `${v.toFixed(1)} tok/s`)),
        ...(builds.length > 1 ? [Number.isNaN(perBuild[0]) ? '—' : `${(now / perBuild[0]).toFixed(2)}x`] : []),
        fraction,
      ]);
    }
  }
  probe();
  console.log(`memory bandwidth (${threads} threads as the engine, best of the run): STREAM triad ${gigabytesPerSecond(bounds.triad)} GB/s, read alone ${gigabytesPerSecond(bounds.read)} GB/s`);
  console.log(`${loadAverage()} at the end`);
  const header = ['figure', ...builds.map((b) => `${b.label} (${b.backend})`), ...(builds.length > 1 ? ['ratio'] : []), 'of triad bandwidth'];
  console.log(formatTable(header, rows));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
