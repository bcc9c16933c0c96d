/**
 * The step loop: every pending sequence of every live request goes into one native step, one step
 * in flight at a time (continuous batching). Requests submit work with `run()` and await logits;
 * because a step's continuations all run before the next step starts (it is scheduled with
 * setImmediate), every request that is decoding lands in the same next step.
 *
 * Fairness: each step carries at most `maxStepTokens` tokens. Decode tokens go first; long prefills
 * are cut into chunks that share what is left, so a long prompt never stalls running decodes.
 *
 * Fork, merge and release are safe at any time (see src/native/binding.ts); `release()` also drops
 * the sequence's queued work, and results of an in-flight step for it are discarded.
 */
import type { LogitsRequest, NativeEngine, StepItem } from '../native/binding.js';
import { GenerationError } from './errors.js';

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

export class StepLoop {
  private readonly queue: Job[] = [];
  private inFlight = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  /** Steps run and tokens processed, for stats and benches. */
  steps = 0;
  tokensStepped = 0;

  constructor(
    private readonly engine: NativeEngine,
    private readonly vocabSize: number,
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
    if (this.queue.some((j) => j.seq === seq)) {
      return Promise.reject(new GenerationError('INVALID_REQUEST', `sequence ${seq} already has queued work`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ seq, owner, tokens, positions, done: 0, logits, rows: [], resolve, reject });
      this.schedule();
    });
  }

  /** Drops a queued job (a cancelled request); its promise never settles. */
  cancel(seq: number): void {
    const i = this.queue.findIndex((j) => j.seq === seq);
    if (i >= 0) this.queue.splice(i, 1);
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

  /** Fails every queued job; later run() calls reject. */
  stop(): void {
    this.stopped = true;
    for (const job of this.queue.splice(0)) job.reject(new GenerationError('MODEL_DISPOSED', 'the model was disposed'));
  }

  get busy(): boolean {
    return this.inFlight;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.stopped || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.tick();
    });
  }

  /**
   * Picks this step's chunks: decodes first, taken round-robin across requests (so a request with
   * a thousand paths cannot crowd out one with a single sequence) and in queue order within one
   * (a job left out runs next time); then prefills split what is left of the budget evenly.
   */
  private plan(): { job: Job; count: number }[] {
    let budget = this.options.maxStepTokens;
    let free = this.engine.kvStats().freeSlots;
    const remaining = (j: Job) => j.tokens.length - j.done;
    const decodes = roundRobin(this.queue.filter((j) => remaining(j) === 1));
    const prefills = this.queue.filter((j) => remaining(j) > 1);
    const picked: { job: Job; count: number }[] = [];
    const take = (job: Job, count: number) => {
      if (count > free) {
        this.fail(job, new GenerationError('KV_EXHAUSTED', `KV pool exhausted: ${count} slots needed, ${free} free`));
        return;
      }
      picked.push({ job, count });
      budget -= count;
      free -= count;
    };
    for (const job of decodes) if (budget > 0) take(job, 1);
    const share = Math.max(1, Math.floor(budget / Math.max(1, prefills.length)));
    for (const job of prefills) if (budget > 0) take(job, Math.min(remaining(job), share, budget));
    return picked;
  }

  private fail(job: Job, err: Error): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
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
        tokens: Int32Array.from(job.tokens.slice(job.done, job.done + count)),
        positions: Int32Array.from(job.positions.slice(job.done, job.done + count)),
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
      if (!this.queue.includes(job)) {
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
        this.queue.splice(this.queue.indexOf(job), 1);
        job.resolve(concat(job.rows));
      }
    }
    for (const wake of this.idleWaiters.splice(0)) wake();
    this.schedule();
  }
}

/** Jobs reordered as the first of each owner, then the second of each, and so on. */
function roundRobin(jobs: Job[]): Job[] {
  const byOwner = new Map<number, Job[]>();
  for (const job of jobs) {
    const list = byOwner.get(job.owner);
    if (list) list.push(job);
    else byOwner.set(job.owner, [job]);
  }
  const lists = [...byOwner.values()];
  const out: Job[] = [];
  for (let round = 0; out.length < jobs.length; round++) {
    for (const list of lists) if (round < list.length) out.push(list[round]);
  }
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
