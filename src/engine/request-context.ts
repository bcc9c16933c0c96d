/**
 * Everything one generation request holds: its live sequences (so cancellation and errors free all
 * of its KV), its owner id in the step loop (the unit of fairness), and its counters.
 */
import type { KvAdmission, Reservation } from './admission.js';
import { GenerationError } from './errors.js';
import type { Rng } from './rng.js';
import { Sequence, type SequenceEngine, type SequenceOwner } from './sequence.js';
import { Transcript } from './transcript.js';

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
  /** Milliseconds the request waited in the admission queue for KV before its first step (and before each rerun after a preemption). */
  queueWaitMs: number;
}

/**
 * Slots a request reserves beyond its tokens' worst case for tokens the scheduler forces after a
 * limit is reached (a conclusion opener, a path's closing tag, deferred last tokens).
 */
export const FORCED_TOKENS_SLACK = 16;

/** Worst-case slots of one sequential stretch from position `from`: maxTokens, capped by the context, plus the slack. */
export function stretchSlots(from: number, maxTokens: number, contextLength: number): number {
  return Math.max(0, Math.min(maxTokens, contextLength - from)) + FORCED_TOKENS_SLACK;
}

let nextRequestId = 1;

export class RequestContext implements SequenceOwner {
  readonly id = nextRequestId++;
  private readonly live = new Set<Sequence>();
  private totalTokens = 0;
  private kvSlotsSaved = 0;
  private forksRefused = 0;
  private readonly forkLatencyMs: number[] = [];
  private readonly mergeLatencyMs: number[] = [];
  /** The request's KV reservation; without one (internal callers) nothing is charged. */
  private reservation?: Reservation;
  /** Reserved slots set aside for planned branches not forked yet (a session's `n`). */
  private earmarked = 0;
  private ended = false;
  /** What admit() asked for: a preempted request asks for it again (rerun). */
  private asked?: { admission: KvAdmission; slots: number };
  /** Queue waits of earlier runs, before a preemption. */
  private earlierWaitMs = 0;
  private wasPreempted = false;

  constructor(
    /** The engine as sequences reach it: the step loop. */
    private readonly engine: SequenceEngine & { create(): number },
  ) {}

  /** A new empty sequence for this request. */
  createSequence(branch: string, rng: Rng): Sequence {
    return new Sequence(this, this.engine, this.engine.create(), branch, 0, rng, Transcript.empty());
  }

  /** A token was emitted (sampled or forced), on any branch. */
  countToken(): void {
    this.totalTokens++;
  }

  /** A goal with outlines was written sequentially (depth, budget or KV guard). */
  refuseFork(): void {
    this.forksRefused++;
  }

  /** @internal SequenceOwner */
  track(seq: Sequence): void {
    this.live.add(seq);
  }

  /** @internal SequenceOwner */
  untrack(seq: Sequence): void {
    this.live.delete(seq);
  }

  /** @internal SequenceOwner */
  forked(ms: number, slotsSaved: number): void {
    this.forkLatencyMs.push(ms);
    this.kvSlotsSaved += slotsSaved;
  }

  /** @internal SequenceOwner */
  merged(ms: number): void {
    this.mergeLatencyMs.push(ms);
  }

  /**
   * Reserves `slots` of the pool before the first step, waiting in the admission queue when `wait`
   * (see KvAdmission.reserve for what it throws); `earmarked` of them are for branches forked later.
   * Resolves once granted; rejects CANCELLED when releaseAll() ran meanwhile.
   */
  async admit(admission: KvAdmission, slots: number, wait: boolean, earmarked = 0): Promise<void> {
    if (this.ended) throw new GenerationError('CANCELLED', 'the request ended before it was admitted');
    this.reservation = admission.reserve(slots, wait);
    this.earmarked = earmarked;
    this.asked = { admission, slots };
    await this.reservation.granted;
  }

  /**
   * Lets the pool preempt this request (KvAdmission: when every running request waits to grow):
   * `stop` ends its run, after which the caller sees `preempted` and calls rerun(). Undefined: not
   * preemptible from now on (its run could not be repeated as it went).
   */
  preemptible(stop: (() => void) | undefined): void {
    if (!this.reservation) return;
    this.reservation.onPreempt = stop && (() => ((this.wasPreempted = true), stop()));
  }

  /** The pool preempted the request: its run was stopped and must be repeated (rerun). */
  get preempted(): boolean {
    return this.wasPreempted;
  }

  /**
   * After a preemption: releases every sequence and the reservation, forgets the stopped run's
   * counters, and reserves what admit() asked for again, at the head of the queue. Resolves once
   * granted; rejects CANCELLED when the request ended meanwhile.
   */
  async rerun(): Promise<void> {
    if (this.ended || !this.asked || !this.reservation) throw new GenerationError('CANCELLED', 'the request ended before it could run again');
    for (const seq of [...this.live]) seq.release();
    this.earlierWaitMs += this.reservation.waitedMs;
    this.reservation.release();
    this.totalTokens = this.kvSlotsSaved = this.forksRefused = 0;
    this.forkLatencyMs.length = this.mergeLatencyMs.length = 0;
    this.wasPreempted = false;
    this.reservation = this.asked.admission.reserve(this.asked.slots, true, true);
    await this.reservation.granted;
  }

  /**
   * Reserves `slots` for a fork's branches: from the earmark first, the rest from unreserved KV.
   * False (nothing reserved) when they do not fit: the caller writes the fork sequentially or goes
   * on without a guarantee. True without a reservation.
   */
  claim(slots: number): boolean {
    if (!this.reservation) return true;
    const fromEarmark = Math.min(this.earmarked, slots);
    if (slots > fromEarmark && !this.reservation.grow(slots - fromEarmark)) return false;
    this.earmarked -= fromEarmark;
    return true;
  }

  /** Like claim(), but waits for running requests to end when the slots do not fit now (see Reservation.growUntil). */
  async claimOrWait(slots: number): Promise<boolean> {
    if (!this.reservation) return true;
    const fromEarmark = Math.min(this.earmarked, slots);
    const ok = slots === fromEarmark || (await this.reservation.growUntil(slots - fromEarmark));
    if (ok) this.earmarked -= fromEarmark;
    return ok;
  }

  /** Counts `n` slots about to be stepped. @throws GenerationError KV_EXHAUSTED past the reservation with nothing free to grow into. */
  charge(n: number): void {
    if (!this.reservation || this.reservation.charge(n)) return;
    const { slots, used } = this.reservation;
    throw new GenerationError('KV_EXHAUSTED', `the request reserved ${slots} KV slots and has used ${used}; ${n} more do not fit the pool now (fork fewer branches, or plan them: session(..., { branches }))`);
  }

  /**
   * Hands over the request's reservation, held at the slots it stepped (Reservation.hold), to a
   * caller that keeps this request's KV beyond its end (a chat's conversation): releaseAll() then
   * leaves it, and the caller releases it with the KV.
   */
  holdReservation(): Reservation | undefined {
    const r = this.reservation;
    this.reservation = undefined;
    r?.hold();
    return r;
  }

  /** Releases every sequence the request still holds, then its reservation (cancel, error, or the end). Idempotent. */
  releaseAll(): void {
    this.ended = true;
    for (const seq of [...this.live]) seq.release();
    this.reservation?.release();
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
      queueWaitMs: this.earlierWaitMs + (this.reservation?.waitedMs ?? 0),
    };
  }
}
