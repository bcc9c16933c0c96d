/**
 * `multiverse bench --model PATH`: prefill and decode tokens/s of a model folder or GGUF file on
 * this machine, straight on the native engine, with the share of memory bandwidth decode at one
 * sequence reaches. With --json the last line of stdout is one JSON object (BenchReport).
 */
import os from 'node:os';
import { loadModel } from '../facade/load-model.js';
import { numberOption, UsageError, type ParsedArgs } from './args.js';
import { loadNative } from '../native/binding.js';
import {
  bandwidthFraction,
  bestBounds,
  decodeStepBytes,
  decodeTokensPerSecond,
  decodeWeightBytes,
  gigabytesPerSecond as gbs,
  kvBytesPerToken,
  memoryBounds,
  percent,
  prefillTokensPerSecond,
  readWeightsOnce,
} from './bench-measure.js';
import { machineLine } from './machine.js';
import { log, MODEL_SPEC, parseCommand } from './model-input.js';
import { BENCH_USAGE } from './usage.js';

const OPTIONS = {
  'prompt-tokens': { kind: 'string', help: 'prefill length (default 512)' },
  sequences: { kind: 'string', help: 'decode batch sizes, comma-separated (default 1,4,16)' },
  context: { kind: 'string', help: 'tokens already in each sequence when decode is timed, comma-separated (default 64)' },
  passes: { kind: 'string', help: 'repetitions; the median is reported (default 3)' },
  threads: { kind: 'string', help: 'math threads (default: all cores)' },
  json: { kind: 'boolean', help: 'print the report as one JSON object on the last line of stdout' },
} as const;

/** What `bench --json` prints. */
export interface BenchReport {
  model: string;
  machine: string;
  /** The dtype of most weights, and the kernels that ran. */
  weights: string;
  backend: string;
  threads: number;
  prefill: { tokens: number; tokensPerSecond: number };
  /**
   * At one sequence, also that row's bandwidthFraction (the weights and that context's K and V) against
   * the run's bandwidth, and the same against the triad probed right before and after the row
   * (adjacentTriad): on a shared machine the bandwidth moves between probes minutes apart.
   */
  decode: { sequences: number; context: number; tokensPerSecond: number; bandwidthFraction?: number; adjacentTriad?: number; adjacentBandwidthFraction?: number }[];
  /** Bytes of weights one decode step streams (decodeWeightBytes): every tensor but the embedding table, of which it reads one row per token (the output projection is read whole, tied or not). */
  weightBytesPerStep: number;
  /** Bytes of K and V a decode step reads per context token (kvBytesPerToken; the cache is f16). */
  kvBytesPerToken: number;
  /** STREAM triad on `threads` threads, and what they read when only reading: the best of a probe before and after the figures (memoryBounds). */
  bandwidth: { bytesPerSecond: number; method: string; readBytesPerSecond: number };
  /** The bytes a decode step streams at one sequence and the first context (decodeStepBytes) × steps/s ÷ bandwidth (bandwidthFraction). */
  bandwidthFraction: number;
  /** The same ÷ the read bandwidth. */
  readFraction: number;
}

export async function benchCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, BENCH_USAGE, OPTIONS, MODEL_SPEC);
  if (!args) return 0;
  if (typeof args.options.model !== 'string') throw new UsageError(`--model is required\n${BENCH_USAGE}`);
  const report = await runBench(args.options.model, benchSettings(args));
  if (args.options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(
      [
        `${report.model}: ${report.weights}, ${report.backend}, ${report.threads} threads`,
        report.machine,
        `prefill ${report.prefill.tokens} tokens: ${report.prefill.tokensPerSecond.toFixed(1)} tok/s`,
        ...report.decode.map((d) => {
          const share =
            d.bandwidthFraction === undefined || d.adjacentBandwidthFraction === undefined
              ? ''
              : ` (${percent(d.bandwidthFraction)} of the triad bound, ${percent(d.adjacentBandwidthFraction)} of the ${gbs(d.adjacentTriad!)} GB/s probed around it)`;
          return `decode ${d.sequences} sequence${d.sequences === 1 ? '' : 's'} at ${d.context} tokens: ${d.tokensPerSecond.toFixed(1)} tok/s${share}`;
        }),
        `decode at 1 sequence streams ${percent(report.bandwidthFraction)} of ${gbs(report.bandwidth.bytesPerSecond)} GB/s (${report.bandwidth.method}, best probe of the run; weights and K/V at ${report.decode[0].context} tokens), ` +
          `${percent(report.readFraction)} of the ${gbs(report.bandwidth.readBytesPerSecond)} GB/s the same threads read when only reading`,
      ].join('\n') + '\n',
    );
  }
  return 0;
}

export interface BenchSettings {
  promptTokens: number;
  sequences: number[];
  /** Decode is timed at each of these context lengths, for each sequence count. */
  contexts: number[];
  passes: number;
  threads: number;
}

function benchSettings(args: ParsedArgs): BenchSettings {
  const positive = (name: string, fallback: number) => {
    const n = numberOption(args, name, true) ?? fallback;
    if (n < 1) throw new UsageError(`--${name} must be at least 1, got ${n}`);
    return n;
  };
  const positives = (name: string, fallback: string) => {
    const list = typeof args.options[name] === 'string' ? args.options[name] : fallback;
    const values = list.split(',').map((s) => Number(s.trim()));
    if (values.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--${name} must be comma-separated positive integers, got ${list}`);
    return values;
  };
  return {
    promptTokens: positive('prompt-tokens', 512),
    sequences: positives('sequences', '1,4,16'),
    contexts: positives('context', '64'),
    passes: positive('passes', 3),
    threads: positive('threads', os.availableParallelism()),
  };
}

/** The KV cache the bench runs with: loadModel's default, and llama.cpp's. */
const KV_DTYPE = 'f16';

/** Loads `modelPath`, measures, disposes. Progress goes to stderr. */
export async function runBench(modelPath: string, s: BenchSettings): Promise<BenchReport> {
  const context = Math.max(...s.contexts);
  const longest = Math.max(s.promptTokens, context + 64);
  const slots = Math.max(s.promptTokens, ...s.sequences.map((n) => n * (context + 64)));
  const model = await loadModel(modelPath, { threads: s.threads, kvSlots: slots, contextLength: longest, maxStepTokens: Math.max(512, s.promptTokens), kvDtype: KV_DTYPE });
  try {
    const { engine } = model;
    const native = loadNative();
    // Other jobs on the machine come and go: the run's bound is the best probe, before, around the
    // one-sequence rows and after the figures.
    let bounds = memoryBounds(native, s.threads);
    await readWeightsOnce(engine);
    log(`prefill ${s.promptTokens} tokens ...`);
    const prefill = await prefillTokensPerSecond(engine, s.promptTokens, s.passes);
    const decode = [];
    for (const context of s.contexts) {
      for (const sequences of s.sequences) {
        log(`decode ${sequences} sequence(s) at ${context} tokens ...`);
        // One-sequence rows are also set against the bandwidth of their own moment: probes right
        // before and after the timed steps.
        let before: { triad: number; read: number } | undefined;
        const probe = sequences === 1 ? () => void (before = memoryBounds(native, s.threads)) : undefined;
        const tokensPerSecond = await decodeTokensPerSecond(engine, sequences, context, 16 * s.passes, probe);
        const around = before && bestBounds(before, memoryBounds(native, s.threads));
        if (around) bounds = bestBounds(bounds, around);
        decode.push({ sequences, context, tokensPerSecond, adjacentTriad: around?.triad });
      }
    }
    bounds = bestBounds(bounds, memoryBounds(native, s.threads));
    const { triad } = bounds;
    const weightBytesPerStep = decodeWeightBytes(model.checkpoint.tensors, model.checkpoint.config.tieWordEmbeddings);
    const kvPerToken = kvBytesPerToken(model.checkpoint.config, KV_DTYPE);
    const fraction = (d: { context: number; tokensPerSecond: number }, bound: number) =>
      bandwidthFraction(decodeStepBytes(weightBytesPerStep, kvPerToken, d.context), d.tokensPerSecond, bound);
    const single = decode.find((d) => d.sequences === 1) ?? { context: 0, tokensPerSecond: NaN };
    return {
      model: model.info.dir,
      machine: machineLine(),
      weights: model.info.weightDtype,
      backend: model.info.backend,
      threads: s.threads,
      prefill: { tokens: s.promptTokens, tokensPerSecond: prefill },
      decode: decode.map(({ adjacentTriad, ...d }) =>
        adjacentTriad === undefined ? d : { ...d, bandwidthFraction: fraction(d, triad), adjacentTriad, adjacentBandwidthFraction: fraction(d, adjacentTriad) },
      ),
      weightBytesPerStep,
      kvBytesPerToken: kvPerToken,
      bandwidth: { bytesPerSecond: triad, method: `STREAM triad, ${s.threads} thread${s.threads === 1 ? '' : 's'}`, readBytesPerSecond: bounds.read },
      bandwidthFraction: fraction(single, triad),
      readFraction: fraction(single, bounds.read),
    };
  } finally {
    await model.dispose();
  }
}
