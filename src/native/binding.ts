/**
 * The shape of the native addon (`build/Release/multiverse_native.node`), declared here so the
 * rest of the TypeScript never touches `any`. Every method first checks that the engine was not
 * disposed and throws `Error('engine disposed')` if it was.
 *
 * Sync methods mutate only KV metadata (segment lists, reference counts) and are cheap: their
 * cost does not depend on prefix length. They are safe while a step is in flight: the step reads
 * K/V storage through slot lists copied when it started, and freed slots are not reused before it
 * ends. Only one step may be in flight; a second `step()` rejects.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

/**
 * How a tensor's weights are stored. F32/F16/BF16 are plain arrays; the rest are ggml block formats
 * (a row of a matrix is a whole number of blocks): Q8_0 and Q4_0 blocks hold 32 weights (34 and 18
 * bytes), Q4_K and Q6_K blocks 256 (144 and 210 bytes). The engine reads them in this format.
 */
export type NativeDtype = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K';

/** The kernel sets the CPU backend has; 'auto' picks the widest one the CPU runs. */
export type KernelSet = 'portable' | 'avx2' | 'avx512';

/** One tensor as the native loader maps it: a byte range of a weights file (safetensors or GGUF). */
export interface NativeTensorRef<D extends NativeDtype = NativeDtype> {
  name: string;
  /** Absolute path of the file. */
  file: string;
  /** Absolute byte offset of the tensor data in the file. */
  offset: number;
  /** Checked: rows x (blocks per row) x (bytes per block), where a plain dtype's block is one weight. */
  byteLength: number;
  dtype: D;
  /** Hugging Face order: [out, in] for a matrix (rows of `in` weights), [n] for a vector. */
  shape: number[];
}

/**
 * What the engine is built from: the model's shape (model/'s parsed config has every one of these
 * fields, so a config is passed as is) and how to run it.
 */
export interface NativeEngineSpec {
  architecture: 'qwen2' | 'llama';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases. */
  attentionBias: boolean;
  /** Which dimensions of a head RoPE rotates together (model/config.ts). Default 'neox'. */
  ropeStyle?: 'neox' | 'interleaved';
  /** Total KV slots in the pool (one slot = one token's K and V in every layer). */
  kvSlots: number;
  /** Worker threads for the math; 0 = hardware concurrency. */
  threads: number;
  /**
   * 'auto' picks AVX-512 (F/BW/VL) when the CPU has it, else AVX2/FMA/F16C, else the plain C++
   * kernels; naming a set forces it (the constructor throws when the CPU lacks it).
   */
  kernels: 'auto' | KernelSet;
  /** How the KV cache stores K and V. Default 'f16' (half the bytes a long context streams). */
  kvDtype?: 'f16' | 'f32';
  /**
   * Multiply-adds below which a loop (one matmul, one layer's attention) runs on one thread rather
   * than being split across the pool; 0 splits every loop. Default: 1048576 when the f32 weights fit
   * in 16 MiB (compute-bound: a small model's decode steps are faster on one thread), else 16384.
   */
  parallelMinWork?: number;
  /**
   * Where the math runs. 'cuda' throws an error whose message starts with `CUDA_UNAVAILABLE:` when
   * the addon was built without CUDA or no usable GPU is present; 'auto' then falls back to 'cpu'.
   * Default 'cpu'.
   */
  device?: NativeDevice;
  tensors: NativeTensorRef[];
}

export type NativeDevice = 'cpu' | 'cuda' | 'auto';

/** Which logits a sequence wants back from a step. */
export type LogitsRequest = 'none' | 'last' | 'all';

export interface StepItem {
  /** A sequence id from createSequence, fork or merge. */
  seq: number;
  /** New tokens: a prefill chunk or one decode token. */
  tokens: Int32Array;
  /** Position ids of those tokens (RoPE uses these; they need not be unique in a sequence). */
  positions: Int32Array;
  logits: LogitsRequest;
}

export interface KvStats {
  totalSlots: number;
  freeSlots: number;
  sequences: number;
  segments: number;
}

export interface NativeEngine {
  /** Which kernels run: 'cpu-avx512', 'cpu-avx2', 'cpu-portable', or 'cuda-smXY' (the GPU's compute capability). */
  readonly backend: string;
  /** A new empty sequence. */
  createSequence(): number;
  /** n children, each = parent's segments (shared, refcounted) + a fresh empty segment. Parent unchanged. */
  fork(seq: number, n: number): number[];
  /**
   * A new sequence: prefix's segments, then each child's own segments (those after the prefix) in
   * the order given, then a fresh segment. Throws if a child does not start with prefix's segments.
   * Nothing is copied; prefix and children stay valid until released.
   */
  merge(prefix: number, children: number[]): number;
  /** Drops the sequence; slots return to the pool when no sequence holds their segment. */
  release(seq: number): void;
  /** Tokens (slots) a sequence holds, shared ones included. */
  sequenceLength(seq: number): number;
  /** Position id stored in each slot of the sequence, in order. For tests and structured prefill. */
  sequencePositions(seq: number): Int32Array;
  /** Throws with a description of the first broken invariant. */
  checkIntegrity(): void;
  kvStats(): KvStats;
  /**
   * Runs the transformer once over every item (weights read once for the whole batch), writes the
   * new tokens' KV into each sequence and resolves with the logits asked for: rows in item order,
   * 'last' = one row, 'all' = one row per new token, each row vocabSize floats.
   * Rejects (and changes nothing) when the pool lacks slots, a sequence id is unknown, a token id is
   * out of range, or a sequence appears twice.
   */
  step(items: StepItem[]): Promise<Float32Array>;
  /** Frees weights mappings and the KV pool. Further calls throw. */
  dispose(): void;
}

export interface NativeAddon {
  Engine: new (spec: NativeEngineSpec) => NativeEngine;
  /** CPU features seen at run time, for bench output. */
  cpuFeatures(): { avx2Fma: boolean; f16c: boolean; avx512: boolean; threads: number };
  /**
   * Async (a libuv worker thread): maps the files and scans the tensors (F32, F16, BF16) for NaN and
   * ±Inf, stopping at the first. Resolves with its tensor's index in `tensors`, its element index and
   * its value (NaN, Infinity or -Infinity), or null when every value is finite. Rejects when a
   * file cannot be mapped or a tensor runs past its end.
   */
  findNonFinite(tensors: NativeTensorRef[]): Promise<{ tensor: number; element: number; value: number } | null>;
  /** Whether `device: 'cuda'` can run here; otherwise why not (`CUDA_UNAVAILABLE: ...`). */
  cudaStatus(): { usable: boolean; reason: string };
  /** Kernel sets this CPU runs, 'portable' first. Sync. */
  kernelSets(): KernelSet[];
  /**
   * Rows of a stored matrix widened to f32 by one kernel set (`bytes`: rows x cols weights in
   * `dtype`). Sync; throws on a length that does not match. For tests.
   */
  dequantizeRows(kernels: KernelSet, dtype: NativeDtype, bytes: Uint8Array, rows: number, cols: number): Float32Array;
  /** y = x W^T by one kernel set: x (tokens, cols), result (tokens, rows). Sync. For tests. */
  matmul(kernels: KernelSet, dtype: NativeDtype, bytes: Uint8Array, rows: number, cols: number, x: Float32Array, tokens: number): Float32Array;
  /** silu(gate) * up elementwise by one kernel set (the MLP's SwiGLU product). Sync. For tests. */
  siluMul(kernels: KernelSet, gate: Float32Array, up: Float32Array): Float32Array;
  /**
   * One query token's attention by one kernel set, as the engine runs it per KV head: nq query heads
   * q (nq, d) over the K and V rows gathered by slot, row i at element rows[i] * stride of `keys` and
   * `values` (f16 or f32 as `kvDtype` says); result (nq, d) = softmax(scale * q K^T) V. Sync; throws
   * on a row outside the buffers. For tests and kernel benchmarks.
   */
  attention(
    kernels: KernelSet,
    kvDtype: 'f16' | 'f32',
    q: Float32Array,
    nq: number,
    d: number,
    keys: Uint8Array,
    values: Uint8Array,
    stride: number,
    rows: Int32Array,
    scale: number,
  ): Float32Array;
  /**
   * STREAM-like copy and triad bandwidth in bytes/s on `threads` threads (default: all cores), best
   * of five passes over arrays of `megabytes` each (use several times the last-level cache). STREAM's
   * byte counts: copy moves 2 arrays, triad (a = b + 3c) 3; read: one array summed (reading alone, as
   * decode reads its weights). Sync; takes about a second.
   */
  memoryBandwidth(megabytes: number, threads?: number): { copy: number; triad: number; read: number };
  /**
   * Runs `loops` parallel_for loops over `n` items on a new engine thread pool of `threads` threads
   * (native/addon/pool_probe.h), counting how often each item was handed out; with `throwAt`, first
   * one loop whose chunk holding that item throws. For tests of the pool's contract. Sync.
   */
  threadPoolCover(n: number, threads: number, loops: number, throwAt?: number): { counts: Uint32Array; error: string | null };
  /**
   * Picks a token from one row of logits (native/engine/sampling.h). `params`: temperature, topK,
   * topP, minP, repetitionPenalty, topLogprobs in that order; `uniform` in [0, 1) is the draw a
   * non-greedy pick consumes; `history` the ids the repetition penalty applies to. Writes
   * [token, logprob, id0, logprob0, ...] into `out` and returns how many top entries it wrote.
   * Sync; throws RangeError on bad params, a history id outside the row, non-finite logits or an
   * `out` too short.
   */
  sampleToken(row: Float32Array, params: Float64Array, uniform: number, history: Int32Array, out: Float64Array): number;
  /** The same output for a given token (forced or scored). Sync; throws RangeError likewise. */
  scoreToken(row: Float32Array, token: number, topLogprobs: number, out: Float64Array): number;
}

let cached: NativeAddon | undefined;

/**
 * Loads the addon once: the prebuilt binary shipped in the package (prebuilds/<platform>-<arch>/)
 * when it loads here, else the one built from source (build/Release/). The error lists what was
 * tried and says how to build it.
 */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  // From src/native (tests run the sources) or dist/src/native (the compiled package).
  const roots = [path.resolve(here, '../..'), path.resolve(here, '../../..')];
  const candidates = [
    ...roots.map((r) => path.join(r, 'prebuilds', `${process.platform}-${process.arch}`, 'multiverse_native.node')),
    ...roots.map((r) => path.join(r, 'build', 'Release', 'multiverse_native.node')),
  ].filter((p) => fs.existsSync(p));
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const file of candidates) {
    try {
      cached = require(file) as NativeAddon;
      return cached;
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const tried = failures.length ? `; these did not load: ${failures.join('; ')}` : ` (no prebuilt for ${process.platform}-${process.arch}, no build/Release)`;
  throw new Error(`native addon not available${tried}; build it from source with \`npx cmake-js compile\` in the multiverse-rx folder (needs cmake and a C++17 compiler)`);
}
