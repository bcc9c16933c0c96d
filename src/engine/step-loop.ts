/**
 * The step loop: every pending sequence of every live request goes into one native step, one step
 * in flight at a time (continuous batching). Requests submit work with `run()` and await logits;
 * because a step's continuations all run before the next step starts (it is scheduled with
 * setImmediate), every request that is decoding lands in the same next step.
 *
 * Fairness: each step carries at most `maxStepTokens` tokens, shared by taking turns across
 * requests (see plan()); long prefills are cut into chunks, so a long prompt never stalls running
 * decodes and a wide request never starves a narrow one.
 *
 * Fork, merge and release are safe at any time (see src/native/binding.ts); `release()` also drops
 * the sequence's queued work, and results of an in-flight step for it are discarded.
 */
import type { LogitsRequest, NativeEngine, StepItem } from '../native/binding.js';
import { GenerationError } from './errors.js';
import type { SequenceEngine } from './sequence.js';

/** The part of the native engine the step loop drives (tests pass a fake). */
export type StepEngine = Pick<NativeEngine, 'step' | 'kvStats' | 'createSequence' | 'fork' | 'merge' | 'release' | 'sequenceLength'>;

export interface StepLoopOptions {
  /** Upper bound on tokens in one native step (decode tokens plus prefill chunks). */
  maxStepTokens: number;
}

interface Job {
  seq: number;
  /** The request this work belongs to: the unit of fairness. */
  owner: number;
  tokens: number[];
  positions: number[];
  /** How many of tokens have been stepped already (a prefill may take several steps). */
  done: number;
  logits: LogitsRequest;
  /** Rows collected so far for logits: 'all' across chunks. */
  rows: Float32Array[];
  resolve(logits: Float32Array): void;
  reject(err: Error): void;
}

export class StepLoop implements SequenceEngine {
  /** Queued jobs by sequence id (one per sequence), in submission order. */
  private readonly queue = new Map<number, Job>();
  private inFlight = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  /** Steps run and tokens processed, for stats and benches. */
  steps = 0;
  tokensStepped = 0;

  constructor(
    private readonly engine: StepEngine,
    readonly vocabSize: number,
    private readonly options: StepLoopOptions,
  ) {}

  /**
   * Queues tokens for a sequence (on behalf of request `owner`) and resolves with the logits asked for ('last': one row,
   * 'all': one row per token, 'none': empty). Rejects with KV_EXHAUSTED when the pool cannot hold
   * the tokens, ENGINE_ERROR when the native step fails. A sequence has at most one job at a time.
   */
  run(seq: number, tokens: number[], positions: number[], logits: LogitsRequest, owner = 0): Promise<Float32Array> {
    if (this.stopped) return Promise.reject(new GenerationError('MODEL_DISPOSED', 'the model was disposed'));
    if (tokens.length === 0 || tokens.length !== positions.length) {
      return Promise.reject(new GenerationError('INVALID_REQUEST', 'run() needs as many positions as tokens, at least one'));
    }
    if (this.queue.has(seq)) {
      return Promise.reject(new GenerationError('INVALID_REQUEST', `sequence ${seq} already has queued work`));
    }
    return new Promise((resolve, reject) => {
      this.queue.set(seq, { seq, owner, tokens, positions, done: 0, logits, rows: [], resolve, reject });
      this.schedule();
    });
  }

  /** Drops a queued job (a cancelled request); its promise never settles. */
  cancel(seq: number): void {
    this.queue.delete(seq);
  }

  /** Resolves when no step is in flight, so KV metadata may change. */
  whenIdle(): Promise<void> {
    if (!this.inFlight) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the sequence's queued work and releases its KV (a no-op once the loop is stopped). */
  release(seq: number): void {
    this.cancel(seq);
    if (!this.stopped) this.engine.release(seq);
  }

  /** A new empty native sequence. */
  create(): number {
    return this.engine.createSequence();
  }

  /** n native sequences sharing `seq`'s KV (see NativeEngine.fork). */
  fork(seq: number, n: number): number[] {
    return this.engine.fork(seq, n);
  }

  /** A native sequence of `parent`'s KV then each child's own, in order (see NativeEngine.merge). */
  merge(parent: number, children: number[]): number {
    return this.engine.merge(parent, children);
  }

  /** Tokens in the native sequence's KV. */
  length(seq: number): number {
    return this.engine.sequenceLength(seq);
  }

  /** Fails every queued job; later run() calls reject. */
  stop(): void {
    this.stopped = true;
    const jobs = [...this.queue.values()];
    this.queue.clear();
    for (const job of jobs) job.reject(new GenerationError('MODEL_DISPOSED', 'the model was disposed'));
  }

  get busy(): boolean {
    return this.inFlight;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.stopped || this.queue.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.tick();
    });
  }

  /**
   * Picks this step's chunks, fair across requests: requests take turns (the first turn rotates
   * from step to step), each turn giving one job of each request a decode token or a prefill chunk
   * of an equal share of the budget, so a request with a thousand paths cannot crowd out another's
   * decode or prefill. Budget left after every job had its turn extends the prefill chunks.
   */
  private plan(): { job: Job; count: number }[] {
    let budget = this.options.maxStepTokens;
    let free = this.engine.kvStats().freeSlots;
    const remaining = (j: Job) => j.tokens.length - j.done;
    const owners = byOwner(this.queue.values());
    if (owners.length === 0) return [];
    const first = this.steps % owners.length;
    const share = Math.max(1, Math.floor(budget / owners.length));
    const rounds = owners.reduce((n, jobs) => Math.max(n, jobs.length), 0);
    const picked: { job: Job; count: number }[] = [];
    for (let round = 0; budget > 0 && round < rounds; round++) {
      for (let turn = 0; turn < owners.length; turn++) {
        const job = owners[(first + turn) % owners.length][round];
        if (!job || budget <= 0) continue;
        const count = Math.min(remaining(job), share, budget);
        if (count > free) {
          this.fail(job, new GenerationError('KV_EXHAUSTED', `KV pool exhausted: ${count} slots needed, ${free} free`));
          continue;
        }
        picked.push({ job, count });
        budget -= count;
        free -= count;
      }
    }
    for (const p of picked) {
      const extra = Math.min(remaining(p.job) - p.count, budget, free);
      if (extra <= 0) continue;
      p.count += extra;
      budget -= extra;
      free -= extra;
    }
    return picked;
  }

  private fail(job: Job, err: Error): void {
    if (this.queue.get(job.seq) === job) this.queue.delete(job.seq);
    job.reject(err);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return; // stop() ran after this tick was scheduled
    const picked = this.plan();
    if (picked.length === 0) {
      this.schedule();
      return;
    }
    const items: StepItem[] = picked.map(({ job, count }) => {
      const last = job.done + count === job.tokens.length;
      const mode: LogitsRequest = job.logits === 'all' ? 'all' : last ? job.logits : 'none';
      return {
        seq: job.seq,
        tokens: int32Slice(job.tokens, job.done, count),
        positions: int32Slice(job.positions, job.done, count),
        logits: mode,
      };
    });
    this.inFlight = true;
    let out: Float32Array | undefined;
    let error: Error | undefined;
    try {
      out = await this.engine.step(items);
    } catch (e) {
      error = new GenerationError('ENGINE_ERROR', `native step failed: ${(e as Error).message}`);
    }
    this.inFlight = false;
    this.steps++;
    let row = 0;
    for (let i = 0; i < picked.length; i++) {
      const { job, count } = picked[i];
      const rows = items[i].logits === 'all' ? count : items[i].logits === 'last' ? 1 : 0;
      if (this.queue.get(job.seq) !== job) {
        row += rows;
        continue; // cancelled while in flight
      }
      if (error) {
        this.fail(job, error);
        continue;
      }
      this.tokensStepped += count;
      job.done += count;
      if (rows > 0) job.rows.push(out!.subarray(row * this.vocabSize, (row + rows) * this.vocabSize));
      row += rows;
      if (job.done === job.tokens.length) {
        this.queue.delete(job.seq);
        job.resolve(concat(job.rows));
      }
    }
    if (this.idleWaiters.length > 0) for (const wake of this.idleWaiters.splice(0)) wake();
    this.schedule();
  }
}

/** Jobs grouped by request, requests in order of their first job, jobs in queue order. */
function byOwner(jobs: Iterable<Job>): Job[][] {
  const groups = new Map<number, Job[]>();
  for (const job of jobs) {
    const list = groups.get(job.owner);
    if (list) list.push(job);
    else groups.set(job.owner, [job]);
  }
  return [...groups.values()];
}

/** values[from, from + count) as an Int32Array (no intermediate array: this runs for every row of every step). */
function int32Slice(values: readonly number[], from: number, count: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = values[from + i];
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
