/**
 * `npm run bench:peer`: our engine and llama.cpp (the prebuilt libllama in node-llama-cpp) on the
 * same GGUF files of the ~150M random Qwen2 bench model (f16, Q8_0, f32, written by the testkit),
 * in one run, alternating passes, medians: prefill 512 tokens and decode at 1 and 4 sequences with
 * 64 and 4096 tokens of context, and the ratio ours ÷ llama.cpp. Each one-sequence decode row also
 * gives both engines' share of the triad bound: bandwidthFraction in src/cli/bench-measure.ts,
 * the bytes a decode step streams (the weights, and the f16 K and V of the context) × steps/s ÷
 * STREAM triad on the same thread count, the best triad probe of the run; and the same against
 * the triad probed right before and after that row in each pass (the median of the passes' shares),
 * since the bandwidth of a shared machine moves between probes minutes apart.
 *
 *   npm run bench:peer [-- --types F16,Q8_0,F32] [--passes 3] [--prompt-tokens 512] [--sequences 1,4] [--context 64,4096] [--json]
 *
 * The files are cached in $TMPDIR/multiverse-bench-gguf. Both sides use the same thread count. It
 * also prints how much of each file is mapped as 2 MB pages (bench/machine.ts, hugePageShare), after
 * dropping each file from the page cache before its first pass (src/testkit/page-cache.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp';
import { runBench, type BenchSettings } from '../src/cli/bench.js';
import { bandwidthFraction, bestBounds, decodeStepBytes, gigabytesPerSecond as gbs, memoryBounds, percent } from '../src/cli/bench-measure.js';
import { loadNative } from '../src/native/binding.js';
import type { GgmlType } from '../src/model/gguf/ggml-types.js';
import { writeRandomGguf } from '../src/testkit/gguf-model.js';
import { BENCH_150M } from '../src/testkit/random-checkpoint.js';
import { dropFromPageCache } from '../src/testkit/page-cache.js';
import { hugePageShare, loadAverage, machineLine } from './machine.js';
import { formatTable, median } from './table.js';

interface Figures {
  prefill: number;
  /** Decode tokens/s by decodeKey(sequences, context). */
  decode: Map<string, number>;
  /** The best of the triad probes right before and after each one-sequence decode row, by decodeKey. */
  adjacentTriad: Map<string, number>;
}

/** What our side's bench reports besides its speeds: the bandwidth probes and the bytes a step streams. */
interface Bound {
  triad: number;
  /** Each of our passes' best triad probe (before or after it), in run order: how much the window moved. */
  passTriads: number[];
  read: number;
  weightBytesPerStep: number;
  /** K and V bytes per context token (both engines keep an f16 cache, node-llama-cpp's default). */
  kvBytesPerToken: number;
}

const { values } = parseArgs({
  options: {
    types: { type: 'string', default: 'F16,Q8_0,F32' },
    passes: { type: 'string', default: '3' },
    'prompt-tokens': { type: 'string', default: '512' },
    sequences: { type: 'string', default: '1,4' },
    context: { type: 'string', default: '64,4096' },
    json: { type: 'boolean', default: false },
  },
});
const types = values.types!.split(',') as GgmlType[];
const settings: BenchSettings = {
  promptTokens: Number(values['prompt-tokens']),
  sequences: values.sequences!.split(',').map(Number),
  contexts: values.context!.split(',').map(Number),
  passes: 1,
  threads: os.availableParallelism(),
};
const passes = Number(values.passes);
if (!Number.isInteger(passes) || passes < 1) throw new Error(`--passes must be a whole number of at least 1, got ${values.passes}`);
const decodeKey = (sequences: number, context: number) => `${sequences}@${context}`;
const decodeKeys = settings.contexts.flatMap((c) => settings.sequences.map((n) => decodeKey(n, c)));
const tokenIds = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104729) % 500) as Token);

function benchFile(type: GgmlType): string {
  const dir = path.join(os.tmpdir(), 'multiverse-bench-gguf');
  const file = path.join(dir, `bench150m-${type}.gguf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    process.stderr.write(`writing ${file} ...\n`);
    writeRandomGguf(`${file}.partial`, BENCH_150M, { type });
    fs.renameSync(`${file}.partial`, file);
  }
  return file;
}

/** llama.cpp on one file: a context per batch size, kept across passes. */
class Peer {
  private constructor(
    private readonly model: LlamaModel,
    private readonly contexts: Map<number, LlamaContext>,
  ) {}

  static async open(llama: Llama, file: string): Promise<Peer> {
    const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    const contexts = new Map<number, LlamaContext>();
    // Per sequence: node-llama-cpp gives each sequence of a context its own contextSize cells.
    const size = Math.max(settings.promptTokens, Math.max(...settings.contexts) + 64) + 256;
    for (const n of new Set([1, ...settings.sequences])) {
      contexts.set(n, await model.createContext({ sequences: n, contextSize: size, batchSize: Math.max(512, settings.promptTokens), threads: settings.threads }));
    }
    return new Peer(model, contexts);
  }

  async measure(pass: number): Promise<Figures> {
    const one = this.contexts.get(1)!.getSequence();
    const t0 = performance.now();
    await one.evaluateWithoutGeneratingNewTokens(tokenIds(settings.promptTokens, pass));
    const prefill = settings.promptTokens / ((performance.now() - t0) / 1000);
    await one.clearHistory();
    one.dispose();
    const decode = new Map<string, number>();
    const adjacentTriad = new Map<string, number>();
    for (const [c, n] of settings.contexts.flatMap((c) => settings.sequences.map((n) => [c, n]))) {
      const context = this.contexts.get(n)!;
      const seqs = Array.from({ length: n }, () => context.getSequence());
      await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(tokenIds(c, i))));
      const times: number[] = [];
      const before = n === 1 ? memoryBounds(native, settings.threads) : undefined;
      for (let step = 0; step < 16; step++) {
        const s0 = performance.now();
        // Evaluations queued in the same tick go to llama.cpp as one batch.
        await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(tokenIds(1, step + i))));
        times.push(performance.now() - s0);
      }
      decode.set(decodeKey(n, c), (n / median(times)) * 1000);
      if (before) adjacentTriad.set(decodeKey(n, c), bestBounds(before, memoryBounds(native, settings.threads)).triad);
      for (const s of seqs) {
        await s.clearHistory();
        s.dispose();
      }
    }
    return { prefill, decode, adjacentTriad };
  }

  async close(): Promise<void> {
    for (const c of this.contexts.values()) await c.dispose();
    await this.model.dispose();
  }
}

async function ours(file: string, bound: Bound): Promise<Figures> {
  const r = await runBench(file, settings);
  bound.triad = Math.max(bound.triad, r.bandwidth.bytesPerSecond);
  bound.passTriads.push(r.bandwidth.bytesPerSecond);
  bound.read = Math.max(bound.read, r.bandwidth.readBytesPerSecond);
  bound.weightBytesPerStep = r.weightBytesPerStep;
  bound.kvBytesPerToken = r.kvBytesPerToken;
  const rows = r.decode.map((d) => [decodeKey(d.sequences, d.context), d] as const);
  return {
    prefill: r.prefill.tokensPerSecond,
    decode: new Map(rows.map(([key, d]) => [key, d.tokensPerSecond])),
    adjacentTriad: new Map(rows.flatMap(([key, d]) => (d.adjacentTriad === undefined ? [] : [[key, d.adjacentTriad]]))),
  };
}

function medianFigures(all: Figures[]): Omit<Figures, 'adjacentTriad'> {
  return {
    prefill: median(all.map((f) => f.prefill)),
    decode: new Map(decodeKeys.map((k) => [k, median(all.map((f) => f.decode.get(k)!))])),
  };
}

/** The median over passes of one one-sequence row's share of the triad probed around it in that pass. */
function adjacentShare(all: Figures[], key: string, stepBytes: number): number | undefined {
  if (all.length === 0 || stepBytes === 0) return undefined;
  return median(all.map((f) => bandwidthFraction(stepBytes, f.decode.get(key)!, f.adjacentTriad.get(key)!)));
}

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const native = loadNative();
const loadAtStart = loadAverage();
// The best triad probe of the run (runBench probes before and after each of our passes).
const bound: Bound = { triad: 0, passTriads: [], read: 0, weightBytesPerStep: 0, kvBytesPerToken: 0 };
/** One figure of one file: both engines' medians (ours undefined where our side failed). */
interface Measured {
  type: string;
  name: string;
  ours: number | undefined;
  theirs: number;
  failure: string | undefined;
  single: boolean;
  /** The bytes one one-sequence decode step of this file streams at this figure's context (decodeStepBytes). */
  stepBytes: number;
  /** One-sequence rows: each engine's share of the triad probed around the row (adjacentShare). */
  adjacent?: { ours: number | undefined; theirs: number | undefined };
}
const measured: Measured[] = [];
/** Per weights type, the share of the file mapped as 2 MB pages at the end of its passes. */
const hugePages = new Map<string, number | undefined>();
for (const type of types) {
  const file = benchFile(type);
  bound.weightBytesPerStep = 0;  // this file's, once our side has run on it
  const mine: Figures[] = [];
  const peerPasses: Figures[] = [];
  let failure: string | undefined;
  // The file leaves the page cache first, whatever wrote or read it before (this run's writer, an
  // earlier run), so every run starts alike: ours runs first in every pass and reads it as our loader
  // does (2 MB folios where the file system has them), and llama.cpp, which opens the file after our
  // first pass, maps the same folios.
  if (!dropFromPageCache(file)) process.stderr.write(`could not drop ${file} from the page cache; it stays as it is\n`);
  let peer: Peer | undefined;
  for (let pass = 0; pass < passes; pass++) {
    process.stderr.write(`${type} pass ${pass + 1}/${passes} (${loadAverage()})\n`);
    try {
      if (!failure) mine.push(await ours(file, bound));
    } catch (e) {
      failure = (e as Error).message;
    }
    peer ??= await Peer.open(llama, file);
    peerPasses.push(await peer.measure(pass));
  }
  // llama.cpp's mapping of the file is still open: the same page cache folios serve both engines.
  hugePages.set(type, hugePageShare(file));
  await peer?.close();
  const peerMedian = medianFigures(peerPasses);
  const ourMedian = failure ? undefined : medianFigures(mine);
  const stepBytes = (context: number) => (bound.weightBytesPerStep > 0 ? decodeStepBytes(bound.weightBytesPerStep, bound.kvBytesPerToken, context) : 0);
  const figure = (name: string, ours: number | undefined, theirs: number, single = false, context = 0, key = '') =>
    measured.push({
      type,
      name,
      ours,
      theirs,
      failure,
      single,
      stepBytes: stepBytes(context),
      ...(single && { adjacent: { ours: failure ? undefined : adjacentShare(mine, key, stepBytes(context)), theirs: adjacentShare(peerPasses, key, stepBytes(context)) } }),
    });
  figure(`prefill ${settings.promptTokens}`, ourMedian?.prefill, peerMedian.prefill);
  for (const c of settings.contexts) {
    for (const n of settings.sequences) {
      const key = decodeKey(n, c);
      figure(`decode, ${n} sequence${n === 1 ? '' : 's'} (context ${c})`, ourMedian?.decode.get(key), peerMedian.decode.get(key)!, n === 1, c, key);
    }
  }
}
await llama.dispose();

// The shares use the best probe of the whole run, the one the machine line prints: both engines stream
// the same bytes per step, so one bound serves both; prefill and batches get none.
const share = (tokensPerSecond: number | undefined, m: Measured) =>
  m.single && tokensPerSecond !== undefined && m.stepBytes > 0 && bound.triad > 0 ? bandwidthFraction(m.stepBytes, tokensPerSecond, bound.triad) : undefined;
const percentOrBlank = (f: number | undefined) => (f === undefined ? '' : percent(f));
const rows: string[][] = [];
const results: Record<string, unknown>[] = [];
for (const m of measured) {
  const { type, name, ours: a, theirs: b, failure, single, adjacent } = m;
  const [ourShare, theirShare] = [share(a, m), share(b, m)];
  rows.push([
    type,
    name,
    b.toFixed(1),
    a === undefined ? `fails: ${failure}` : a.toFixed(1),
    a === undefined ? '-' : (a / b).toFixed(2),
    percentOrBlank(theirShare),
    percentOrBlank(ourShare),
    percentOrBlank(adjacent?.theirs),
    percentOrBlank(adjacent?.ours),
  ]);
  results.push({
    weights: type,
    figure: name,
    llamaCpp: b,
    ours: a ?? null,
    ratio: a === undefined ? null : a / b,
    ...(single && {
      bandwidthFraction: ourShare ?? null,
      llamaCppBandwidthFraction: theirShare ?? null,
      adjacentBandwidthFraction: adjacent?.ours ?? null,
      llamaCppAdjacentBandwidthFraction: adjacent?.theirs ?? null,
    }),
  });
}

const passRange = bound.passTriads.length > 1 ? ` (our passes' best triad probes ${gbs(Math.min(...bound.passTriads))}–${gbs(Math.max(...bound.passTriads))})` : '';
const triad = `STREAM triad ${gbs(bound.triad)} GB/s, read alone ${gbs(bound.read)} GB/s, on ${settings.threads} threads (best probes of the run)${passRange}`;
const machine = `${machineLine()}, ${settings.threads} threads, ${passes} alternating passes, medians, ${triad}; ${loadAtStart} at the start, ${loadAverage()} at the end`;
process.stdout.write(`${machine}\nmodel: random Qwen2 ~150M (BENCH_150M), GGUF written by src/testkit/gguf-model.ts\n`);
process.stdout.write('of triad bound: bytes per decode step (weights, and K/V of the context) × steps/s ÷ triad (one-sequence rows)\n');
process.stdout.write("of triad around it: the same ÷ the best of the triad probes right before and after that row, each pass's share, median of the passes\n");
const pages = [...hugePages].map(([type, share]) => `${type} ${share === undefined ? 'unknown' : percent(share)}`).join(', ');
process.stdout.write(`weights on 2 MB pages (the page cache's folios, shared by both engines, each file read from disk in its first pass; docs/kernels.md): ${pages}\n\n`);
process.stdout.write(`${formatTable(['weights', 'figure', 'llama.cpp t/s', 'multiverse-rx t/s', 'ratio', 'llama.cpp of triad bound', 'multiverse-rx of triad bound', 'llama.cpp of triad around it', 'multiverse-rx of triad around it'], rows)}\n`);
if (values.json) {
  const hugePageShares = Object.fromEntries([...hugePages].map(([type, share]) => [type, share ?? null]));
  process.stdout.write(`${JSON.stringify({ machine, triad: bound.triad, passTriads: bound.passTriads, read: bound.read, threads: settings.threads, hugePageShares, results })}\n`);
}
