/**
 * Engine speed measurements shared by `multiverse bench` and the benchmarks in bench/: prefill and
 * batched decode tokens/s straight on the native engine (no sampling, no Observables), and a
 * memory bandwidth figure to set decode against.
 */
import type { NativeAddon, NativeEngine } from '../native/binding.js';

/** A share as the benches print it: 0.734 -> "73%". */
export const percent = (fraction: number): string => `${(100 * fraction).toFixed(0)}%`;
/** Bytes per second as the benches print them, in GB/s: 6.62e10 -> "66.2". */
export const gigabytesPerSecond = (bytesPerSecond: number): string => (bytesPerSecond / 1e9).toFixed(1);

/** Median of repeated measurements: robust to the noise of a shared machine. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Position ids from..from+n-1. */
export const seqRange = (from: number, n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => from + i);
/** `n` token ids, varied by `seed`; ids below 500 exist in every generated vocabulary. */
export const tokens = (n: number, seed: number): Int32Array => Int32Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729) % 500);

/**
 * One single-token step, untimed: it reads every weight once, so a model file not yet in the page
 * cache is read from disk here and not inside the first timed figure.
 */
export async function readWeightsOnce(engine: NativeEngine): Promise<void> {
  const seq = engine.createSequence();
  try {
    await engine.step([{ seq, tokens: tokens(1, 0), positions: seqRange(0, 1), logits: 'last' }]);
  } finally {
    engine.release(seq);
  }
}

/** Prefill tokens/s for one prompt of `length` tokens in one step (median of `reps`). */
export async function prefillTokensPerSecond(engine: NativeEngine, length: number, reps: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const seq = engine.createSequence();
    const t0 = performance.now();
    await engine.step([{ seq, tokens: tokens(length, r), positions: seqRange(0, length), logits: 'last' }]);
    times.push(performance.now() - t0);
    engine.release(seq);
  }
  return (length / median(times)) * 1000;
}

/**
 * Aggregate decode tokens/s with `batch` sequences (each `context` tokens in) stepped together.
 * `beforeTimedSteps` runs once the context is in, right before the timed steps (a bandwidth probe).
 */
export async function decodeTokensPerSecond(engine: NativeEngine, batch: number, context: number, steps: number, beforeTimedSteps?: () => void): Promise<number> {
  const seqs = Array.from({ length: batch }, () => engine.createSequence());
  // The context goes in 512 tokens per sequence per step, so a long one never needs a giant step.
  for (let at = 0; at < context; at += 512) {
    const n = Math.min(512, context - at);
    await engine.step(seqs.map((seq, i) => ({ seq, tokens: tokens(n, i + at), positions: seqRange(at, n), logits: 'none' as const })));
  }
  beforeTimedSteps?.();
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    await engine.step(seqs.map((seq, i) => ({ seq, tokens: tokens(1, s + i), positions: Int32Array.of(context + s), logits: 'last' as const })));
    times.push(performance.now() - t0);
  }
  for (const seq of seqs) engine.release(seq);
  return (batch / median(times)) * 1000;
}

/**
 * The bytes of weights one decode step reads, in their stored format: every tensor but the
 * embedding table, of which a step reads one row per token; a tied table is read whole as the output
 * projection, so it counts then.
 */
export function decodeWeightBytes(tensors: readonly { name: string; byteLength: number }[], tieWordEmbeddings: boolean): number {
  return tensors.filter((t) => tieWordEmbeddings || t.name !== 'model.embed_tokens.weight').reduce((n, t) => n + t.byteLength, 0);
}

/**
 * The bytes of K and V a decode step reads per token of a sequence's context: that token's K and V
 * rows in every layer, in the cache's dtype (the engine's default is f16, as is llama.cpp's).
 */
export function kvBytesPerToken(config: { numLayers: number; numKvHeads: number; headDim: number }, kvDtype: 'f16' | 'f32'): number {
  return config.numLayers * 2 * config.numKvHeads * config.headDim * (kvDtype === 'f16' ? 2 : 4);
}

/**
 * The bytes one decode step streams from memory: the weights (decodeWeightBytes) once, and the K
 * and V of every context token of each of `sequences` sequences (kvBytesPerToken). At a 64-token
 * context the KV is under 1% of it; at 4096 tokens it is a fifth to a third of the bench model's.
 */
export function decodeStepBytes(weightBytesPerStep: number, kvPerToken: number, context: number, sequences = 1): number {
  return weightBytesPerStep + sequences * context * kvPerToken;
}

/**
 * The bandwidth decode is set against: STREAM's triad (a = b + 3c, bytes of the three arrays per
 * second, write-allocate traffic not counted) over 128 MiB arrays on `threads` threads, the engine's
 * own count; best of five passes. Also what the same threads read when they only read (one array
 * summed), as decode reads its weights: on the 2-core dev VM 0.8 to 1.1 times the triad from one
 * probe to the next. The arrays are on 2 MB pages, as the weights are; a probe takes 0.15-0.25 s.
 */
export function memoryBounds(native: NativeAddon, threads: number): { triad: number; read: number } {
  const { triad, read } = native.memoryBandwidth(128, threads);
  return { triad, read };
}

/** The best of two probes, figure by figure (other jobs on the machine come and go). */
export function bestBounds(a: { triad: number; read: number }, b: { triad: number; read: number }): { triad: number; read: number } {
  return { triad: Math.max(a.triad, b.triad), read: Math.max(a.read, b.read) };
}

/**
 * How close decode comes to the memory's limit: the bytes a step streams (decodeStepBytes) x steps
 * per second ÷ the triad (memoryBounds; or ÷ its read figure). The one definition of `multiverse
 * bench`, bench:peer and bench:kernels.
 */
export function bandwidthFraction(bytesPerStep: number, stepsPerSecond: number, triad: number): number {
  return (bytesPerStep * stepsPerSecond) / triad;
}
