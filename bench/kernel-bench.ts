/**
 * `npm run bench:kernels`: the engine's speed by weight dtype on the generated ~150M Qwen2 (f32 and
 * f16 copies, written once to .cache/), and how close decode comes to the memory's bandwidth.
 *
 *   npm run bench:kernels -- [--quick] [--long] [--before path/to/an/older/multiverse_native.node]
 *
 * Per dtype: prefill of a 512-token prompt, decode at 1 and 4 sequences per step (128-token
 * context; with --long also 1 sequence at a 4096-token context), each the median of alternating
 * passes. With --before, an older build of the addon runs the same figures in the same passes,
 * turn about, so a shared machine's noise hits both alike. Bandwidth fraction = weight bytes a
 * decode step streams x steps/s / STREAM-like triad bandwidth measured by the addon on all cores.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { openCheckpoint, type Checkpoint } from '../src/model/checkpoint.js';
import { loadNative, type NativeAddon } from '../src/native/binding.js';
import { BENCH_150M } from '../src/testkit/random-checkpoint.js';
import { ensureModel } from './bench-models.js';
import { decodeTokensPerSecond, prefillTokensPerSecond } from './engine-bench.js';
import { machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const long = args.includes('--long');
const beforeAt = args.indexOf('--before');
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Build {
  label: string;
  addon: NativeAddon;
  /** The kernel set the build picked, once seen. */
  backend?: string;
}

/** Tokens/s figures of one engine build on one checkpoint. */
async function figures(build: Build, ck: Checkpoint): Promise<Map<string, number>> {
  const engine = new build.addon.Engine({ ...ck.config, kvSlots: long ? 4352 : 1024, threads: 0, kernels: 'auto', tensors: ck.tensors });
  const out = new Map<string, number>();
  build.backend = engine.backend;
  try {
    out.set('prefill 512', await prefillTokensPerSecond(engine, 512, 1));
    out.set('decode x1', await decodeTokensPerSecond(engine, 1, 128, quick ? 8 : 16));
    out.set('decode x4', await decodeTokensPerSecond(engine, 4, 128, quick ? 8 : 16));
    if (long) {
      out.set('decode x1, 4k context', await decodeTokensPerSecond(engine, 1, 4096, 8));
    }
    return out;
  } finally {
    engine.dispose();
  }
}

/** Bytes a decode step reads from the weights: every matrix and vector except the embedding table. */
function streamedBytes(ck: Checkpoint): number {
  return ck.tensors.filter((t) => t.name !== 'model.embed_tokens.weight' || ck.config.tieWordEmbeddings).reduce((n, t) => n + t.byteLength, 0);
}

async function main(): Promise<void> {
  const native = loadNative();
  const builds: Build[] = [{ label: 'this build', addon: native }];
  if (beforeAt >= 0) {
    const file = path.resolve(args[beforeAt + 1]);
    builds.unshift({ label: 'before', addon: createRequire(import.meta.url)(file) as NativeAddon });
  }
  console.log(`machine: ${machineLine()} (shared with other jobs: figures are medians of alternating passes)`);
  const bw = native.memoryBandwidth(512);
  console.log(`memory bandwidth (all cores): copy ${(bw.copy / 1e9).toFixed(1)} GB/s, triad ${(bw.triad / 1e9).toFixed(1)} GB/s`);
  const passes = quick ? 3 : 5;
  const rows: string[][] = [];
  for (const dtype of ['F32', 'F16'] as const) {
    const dir = ensureModel(dtype === 'F32' ? 'bench-150m' : 'bench-150m-f16', { ...BENCH_150M, dtype });
    const ck = await openCheckpoint(dir);
    const runs = builds.map(() => new Map<string, number[]>());
    for (let p = 0; p < passes; p++) {
      for (let b = 0; b < builds.length; b++) {
        log(`${dtype} pass ${p + 1}/${passes}: ${builds[b].label} ...`);
        for (const [k, v] of await figures(builds[b], ck)) runs[b].set(k, [...(runs[b].get(k) ?? []), v]);
      }
    }
    const bytes = streamedBytes(ck);
    for (const figure of runs[0].keys()) {
      const perBuild = runs.map((r) => median(r.get(figure)!));
      const now = perBuild[perBuild.length - 1];
      const sequences = figure.startsWith('decode x4') ? 4 : 1;
      const fraction = figure.startsWith('decode') ? `${((100 * bytes * (now / sequences)) / bw.triad).toFixed(0)}%` : '';
      rows.push([
        `${dtype} ${figure}`,
        ...perBuild.map((v) => `${v.toFixed(1)} tok/s`),
        ...(builds.length > 1 ? [`${(now / perBuild[0]).toFixed(2)}x`] : []),
        fraction,
      ]);
    }
  }
  const header = ['figure', ...builds.map((b) => `${b.label} (${b.backend})`), ...(builds.length > 1 ? ['ratio'] : []), 'of triad bandwidth'];
  console.log(formatTable(header, rows));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
