/**
 * `npm run bench:attention`: one-sequence decode at a long context on a model where attention is most
 * of a step (the bench model's attention shape, hidden 768, 12 query heads over 4 KV heads, head dim
 * 64, but 2 layers, intermediate 512 and vocab 2048, f16 weights and KV cache), as CPU time of the
 * process per step: on a shared machine wall-clock time moves with other jobs, CPU time much less.
 *
 *   npm run bench:attention -- [--before path/to/an/older/multiverse_native.node] [--passes 3] [--context 4096] [--sequences 1] [--model DIR|FILE.gguf]
 *
 * --model runs another model instead (e.g. the GGUF files `bench:peer` writes).
 *
 * With --before, the older build runs the same steps in the same passes, turn about.
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openModel } from '../src/model/open-model.js';
import { seqRange, tokens } from '../src/cli/bench-measure.js';
import { loadNative, type NativeAddon } from '../src/native/binding.js';
import { BENCH_150M } from '../src/testkit/random-checkpoint.js';
import { ensureModel } from './bench-model.js';
import { machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    passes: { type: 'string', default: '3' },
    context: { type: 'string', default: '4096' },
    sequences: { type: 'string', default: '1' },
    steps: { type: 'string', default: '24' },
    model: { type: 'string' },
  },
});
const passes = Number(values.passes);
const context = Number(values.context);
const sequences = Number(values.sequences);
const steps = Number(values.steps);
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Build {
  label: string;
  addon: NativeAddon;
  backend?: string;
  /** Median CPU milliseconds per decode step, one per pass. */
  cpuMs: number[];
  wallMs: number[];
}

const { checkpoint: model } = await openModel(
  values.model ?? ensureModel('attention-2l-f16', { ...BENCH_150M, dtype: 'F16', numLayers: 2, intermediateSize: 512, vocabSize: 2048 }),
);

/** Median CPU and wall milliseconds per decode step of `sequences` sequences `context` tokens in. */
async function measure(build: Build): Promise<void> {
  const engine = new build.addon.Engine({ ...model.config, kvSlots: sequences * (context + steps) + 64, threads: 0, kernels: 'auto', tensors: model.tensors });
  build.backend = engine.backend;
  try {
    const seqs = Array.from({ length: sequences }, () => engine.createSequence());
    for (let at = 0; at < context; at += 512) {
      const n = Math.min(512, context - at);
      await engine.step(seqs.map((seq, i) => ({ seq, tokens: tokens(n, i + at), positions: seqRange(at, n), logits: 'none' as const })));
    }
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let s = 0; s < steps; s++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await engine.step(seqs.map((seq, i) => ({ seq, tokens: tokens(1, s + i), positions: Int32Array.of(context + s), logits: 'last' as const })));
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    build.cpuMs.push(median(cpu));
    build.wallMs.push(median(wall));
  } finally {
    engine.dispose();
  }
}

const builds: Build[] = [{ label: 'this build', addon: loadNative(), cpuMs: [], wallMs: [] }];
if (values.before) {
  const addon = createRequire(import.meta.url)(path.resolve(values.before)) as NativeAddon;
  builds.unshift({ label: 'before', addon, cpuMs: [], wallMs: [] });
}
console.log(`machine: ${machineLine()}\nmodel: ${model.dir}`);
for (let p = 0; p < passes; p++) {
  for (const b of builds) {
    log(`pass ${p + 1}/${passes}: ${b.label} ...`);
    await measure(b);
  }
}
const rows = builds.map((b) => [
  `${b.label} (${b.backend})`,
  `${median(b.cpuMs).toFixed(2)} ms`,
  b.cpuMs.map((v) => v.toFixed(2)).join(' '),
  `${median(b.wallMs).toFixed(2)} ms`,
]);
console.log(`decode, ${sequences} sequence(s) at a ${context}-token context, CPU time per step (median of ${steps} steps, per pass)`);
console.log(formatTable(['build', 'CPU/step', 'per pass', 'wall/step'], rows));
if (builds.length > 1) {
  const ratios = builds[0].cpuMs.map((v, i) => (v / builds[1].cpuMs[i]).toFixed(2));
  console.log(`CPU time before / after, per pass: ${ratios.join(' ')}`);
}
console.log(`load average: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
