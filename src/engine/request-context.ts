/**
 * Everything one generation request holds: its live sequences (so cancellation and errors free all
 * of its KV), its owner id in the step loop (the unit of fairness), and its counters.
 */
import type { NativeEngine } from '../native/binding.js';
import { SeqHandle } from './seq-handle.js';
import type { StepLoop } from './step-loop.js';
import { SharedList } from './shared-list.js';
import type { Rng } from './rng.js';

/** Per-request measurements, reported with the done event. */
export interface RequestStats {
  /** Tokens generated over all branches (sampled and forced). */
  totalTokens: number;
  /** Tokens on the longest path through the request: the sequential length. */
  criticalPathTokens: number;
  /** totalTokens / criticalPathTokens: the paper's "# parallel". */
  parallelism: number;
  /** KV slots that copies would have needed and sharing did not: the prefix, once per extra child. */
  kvSlotsSaved: number;
  forks: number;
  merges: number;
  /** Goals with outlines that were written sequentially (depth, budget or KV guard). */
  forksRefused: number;
  /** Native fork and merge calls, milliseconds each. */
  forkLatencyMs: number[];
  mergeLatencyMs: number[];
}

let nextRequestId = 1;

export class RequestContext {
  readonly id = nextRequestId++;
  readonly live = new Set<SeqHandle>();
  totalTokens = 0;
  kvSlotsSaved = 0;
  forksRefused = 0;
  readonly forkLatencyMs: number[] = [];
  readonly mergeLatencyMs: number[] = [];

  constructor(
    readonly loop: StepLoop,
    readonly engine: NativeEngine,
    readonly vocabSize: number,
  ) {}

  /** A new empty sequence for this request. */
  createSequence(branch: string, rng: Rng): SeqHandle {
    return new SeqHandle(this, this.engine.createSequence(), branch, 0, rng, SharedList.of<number>([]), SharedList.of<string>([]));
  }

  /**
   * A handle in this request on a native sequence the caller hands over (a chat turn takes a fork
   * of the conversation's held sequence): it continues at `nextPos` with `history` behind it.
   */
  adoptSequence(id: number, branch: string, nextPos: number, rng: Rng, history: SharedList<number>): SeqHandle {
    return new SeqHandle(this, id, branch, nextPos, rng, history, SharedList.of<string>([]));
  }

  /** Releases every sequence the request still holds (cancel, error, or the end). Idempotent. */
  releaseAll(): void {
    for (const seq of [...this.live]) seq.release();
  }

  stats(criticalPathTokens: number): RequestStats {
    return {
      totalTokens: this.totalTokens,
      criticalPathTokens,
      parallelism: criticalPathTokens > 0 ? this.totalTokens / criticalPathTokens : 1,
      kvSlotsSaved: this.kvSlotsSaved,
      forks: this.forkLatencyMs.length,
      merges: this.mergeLatencyMs.length,
      forksRefused: this.forksRefused,
      forkLatencyMs: this.forkLatencyMs,
      mergeLatencyMs: this.mergeLatencyMs,
    };
  }
}
