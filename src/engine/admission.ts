/**
 * KV admission (DESIGN.md §2): before its first step a request reserves the KV slots its worst case
 * needs, or waits in a bounded FIFO queue until reservations leave room for it. Reservations never
 * add up to more than the pool, and a request steps no more tokens than it reserved (Sequence
 * charges every token), so a step never finds the pool full: a stream that has started is never
 * failed for lack of KV.
 *
 * Why reserve rather than admit optimistically: a reservation is a counter, and the cost is capacity
 * held for tokens a request may never write; it is bounded because the reservation covers only the
 * critical path (prompt + maxTokens), and parallel width is reserved when it is known: the `n`
 * branches of a planned session up front, a Multiverse fork's extra paths when the fork happens.
 *
 * Growth: a running request grows its reservation from slots nobody has reserved, ahead of the
 * queue (running work first, as serving engines do). A Multiverse fork that does not fit waits
 * (growUntil) until running requests end, since a model trained to fork writes poorly when made to
 * go on sequentially; new requests are not admitted while a fork waits, and waiting forks go on
 * first-fit in order. A fork that could not fit the pool even alone is refused at once (written
 * sequentially): that depends on the request alone, never on the load.
 *
 * When every running request waits to grow, nothing would ever end. The latest admitted request
 * that can be preempted is then preempted: its run is stopped (onPreempt), it frees all of its KV
 * and waits at the head of the queue with its first reservation, and when admitted again it runs
 * from its prompt, its stream passing on only what it had not sent yet (rx/replay-gate.ts): the
 * consumer sees a pause. Why this and not the alternatives (docs/api.md, Admission):
 * - refusing the fork (what this did before) changed the model's output with the load: the
 *   arithmetic Multiverse model scored 59.5-97.5% under load against 100% alone;
 * - reserving a Multiverse request's worst case up front (maxTotalTokens, 8x its critical path by
 *   default) holds that worst case for every request at once, about an eighth of the concurrency;
 * - rebuilding the victim's KV by prefilling its transcript is faster than rerunning it, but the
 *   engine promises prefill equals decoding only to float tolerance, so a greedy near-tie could
 *   still flip, and the plan's state in the middle of a fork (paths at different points, lanes
 *   waiting, tag scanners) would have to be rebuilt as well; a rerun rebuilds both by repeating the
 *   same decode steps, which write the same tokens (the batch-invariance every "same tokens as
 *   alone" test relies on). The victim is the latest admitted, usually the one
 *   with the least work to redo, so the earliest keep going and all of them end.
 * Requests that cannot rerun as they went (a session's branches are user code; see docs/api.md)
 * are not preempted; when only they wait, or the only running request waits on KV held between
 * chat turns (nothing running would free it), the latest growth is refused (growthRefused).
 */
import { GenerationError } from './errors.js';

export interface AdmissionOptions {
  /** Most requests waiting for KV at once; more are refused with OVERLOADED. Default 1024. */
  maxQueued?: number;
}

export interface AdmissionStats {
  totalSlots: number;
  /** Slots reserved by running requests now. */
  reservedSlots: number;
  /** Requests holding a reservation now. */
  running: number;
  /** Requests waiting for KV now. */
  queued: number;
  maxQueued: number;
  /** Requests admitted so far (at once or after waiting). */
  admitted: number;
  /** Of those, the ones that had to wait. */
  waited: number;
  /** Milliseconds all admitted requests spent in the queue, summed. */
  queueWaitMs: number;
  /** Requests refused with OVERLOADED (queue full, or not allowed to wait). */
  refused: number;
  /** Growths refused (a Multiverse fork written sequentially): it could never fit the pool, or nothing could be preempted. */
  growthRefused: number;
  /** Growths that had to wait for running requests to end (a Multiverse fork paused). */
  growthWaited: number;
  /** Running requests waiting to grow now. */
  growing: number;
  /** Requests stopped, freed and queued again to rerun because every running request waited to grow. */
  preemptions: number;
}

/**
 * One request's claim on the pool: queued until granted, then `slots` reserved of which `used`
 * have been stepped (an upper bound of what it holds: released branches are not subtracted).
 */
export class Reservation {
  /** preempted: still holding its slots until the stopped run releases them. */
  private state: 'queued' | 'granted' | 'preempted' | 'held' | 'released' = 'queued';
  private readonly queuedAt = performance.now();
  /** Milliseconds spent waiting in the queue (0 when admitted at once). */
  waitedMs = 0;
  used = 0;
  /** @internal Admission order: the latest admitted is preempted first. */
  order = 0;
  /**
   * Set by a request that can stop and rerun from its prompt (see the header): called once when the
   * pool preempts it. The request must then stop stepping and release this reservation; it may
   * reserve again with `resume`. Unset: never preempted.
   */
  onPreempt?: () => void;
  /** Resolves when granted; rejects (CANCELLED, MODEL_DISPOSED) when released or closed while queued. */
  readonly granted: Promise<void>;
  private settle!: { resolve(): void; reject(err: Error): void };

  /** @internal Use KvAdmission.reserve. */
  constructor(
    private readonly pool: KvAdmission,
    public slots: number,
    /** A preempted request asking again (see KvAdmission.reserve). */
    readonly resumed = false,
  ) {
    this.granted = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // A request cancelled while queued may never look at the promise.
    this.granted.catch(() => undefined);
  }

  get isGranted(): boolean {
    return this.state === 'granted';
  }

  /** @internal */
  grant(queued: boolean): void {
    this.state = 'granted';
    if (queued) this.waitedMs = performance.now() - this.queuedAt;
    this.settle.resolve();
  }

  /** @internal Stops the request: its growths fail from now on, its slots stay taken until release(). */
  preempt(): void {
    this.state = 'preempted';
    this.onPreempt?.();
  }

  /** @internal */
  fail(err: Error): void {
    this.state = 'released';
    this.settle.reject(err);
  }

  /** Reserves `n` more slots if nobody has reserved them; false (and nothing changes) otherwise. */
  grow(n: number): boolean {
    if (this.state !== 'granted' || !this.pool.take(n)) return false;
    this.slots += n;
    return true;
  }

  /**
   * Reserves `n` more slots, waiting for running requests to end (or be preempted) when they do not
   * fit now. Resolves false (nothing reserved) when waiting could not succeed: the slots would not
   * fit the pool even alone, nothing could be preempted (see the header), or this request was
   * released or preempted.
   */
  growUntil(n: number): Promise<boolean> {
    if (this.state !== 'granted') return Promise.resolve(false);
    if (this.slots + n > this.pool.totalSlots) return Promise.resolve(this.pool.refuseGrowth());
    if (this.grow(n)) return Promise.resolve(true);
    return this.pool.waitToGrow(this, n).then((ok) => {
      if (ok) this.slots += n;
      return ok;
    });
  }

  /**
   * Counts `n` slots about to be stepped; past the reservation it grows by the difference when it
   * can. False when it cannot: stepping them could take KV reserved by others.
   */
  charge(n: number): boolean {
    const over = this.used + n - this.slots;
    if (over > 0 && !this.grow(over)) return false;
    this.used += n;
    return true;
  }

  /**
   * Keeps only the slots stepped so far, for KV held beyond the request's end (a chat's
   * conversation between turns); the rest come back, and it no longer counts as a running request
   * (nothing waits for it to end).
   */
  hold(): void {
    if (this.state !== 'granted') return;
    this.state = 'held';
    this.pool.give(this, this.slots - this.used);
    this.slots = this.used;
  }

  /** Leaves the queue, or returns the slots (call once the KV is released). Idempotent. */
  release(): void {
    const was = this.state;
    if (was === 'released') return;
    this.state = 'released';
    if (was === 'queued') {
      this.pool.dequeue(this);
      this.settle.reject(new GenerationError('CANCELLED', 'the request was cancelled while it waited for KV'));
    } else this.pool.give(this, this.slots, was !== 'held');
  }
}

export class KvAdmission {
  private reserved = 0;
  /** Granted reservations not held: the requests that will end and give their KV back. */
  private readonly running = new Set<Reservation>();
  private readonly queue: Reservation[] = [];
  private closed = false;
  /** Running requests waiting to grow, in order; served before new requests are admitted. */
  private readonly growing: { r: Reservation; n: number; resolve(ok: boolean): void }[] = [];
  private readonly counts = { admitted: 0, waited: 0, queueWaitMs: 0, refused: 0, growthRefused: 0, growthWaited: 0, preemptions: 0 };
  /** Admissions so far, resumes included: each reservation's order. */
  private admissions = 0;
  readonly maxQueued: number;

  constructor(
    readonly totalSlots: number,
    options: AdmissionOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 1024;
    if (!Number.isSafeInteger(this.maxQueued) || this.maxQueued < 0) throw new TypeError(`maxQueued must be an integer >= 0, got ${this.maxQueued}`);
  }

  /**
   * Asks for `slots`: granted at once when they fit and nobody waits before it, else queued.
   * `resume`: a preempted request asks again; it goes to the head of the queue, whatever `wait`
   * and the queue's length (it was admitted once already), and is not counted as admitted again.
   * @throws GenerationError KV_EXHAUSTED when `slots` exceeds the whole pool (it could never run);
   *   OVERLOADED when it would have to wait and `wait` is false or the queue is full;
   *   MODEL_DISPOSED after close().
   */
  reserve(slots: number, wait: boolean, resume = false): Reservation {
    if (this.closed) throw new GenerationError('MODEL_DISPOSED', 'the model was disposed');
    if (slots > this.totalSlots) {
      throw new GenerationError('KV_EXHAUSTED', `the request needs ${slots} KV slots at worst; the pool holds ${this.totalSlots}`);
    }
    const r = new Reservation(this, slots, resume);
    if (this.queue.length === 0 && this.growing.length === 0 && this.reserved + slots <= this.totalSlots) {
      this.admit(r, false);
      return r;
    }
    if (resume) {
      this.queue.unshift(r);
      return r;
    }
    if (!wait || this.queue.length >= this.maxQueued) {
      this.counts.refused++;
      const why = wait ? `the admission queue is full (${this.maxQueued} waiting)` : 'the request asked not to wait (waitForKv: false)';
      throw new GenerationError('OVERLOADED', `the KV pool is taken by running requests and ${why}; retry later`);
    }
    this.queue.push(r);
    return r;
  }

  /** Fails every waiting request (model disposed); later reserve() calls throw. */
  close(): void {
    this.closed = true;
    for (const r of this.queue.splice(0)) r.fail(new GenerationError('MODEL_DISPOSED', 'the model was disposed'));
  }

  stats(): AdmissionStats {
    return { totalSlots: this.totalSlots, reservedSlots: this.reserved, running: this.running.size, queued: this.queue.length, maxQueued: this.maxQueued, growing: this.growing.length, ...this.counts };
  }

  /** @internal Reserves n unreserved slots for a running request (growth), unless others wait to grow first. */
  take(n: number): boolean {
    if (this.growing.length > 0 || this.reserved + n > this.totalSlots) {
      this.counts.growthRefused++;
      return false;
    }
    this.reserved += n;
    return true;
  }

  /** @internal Counts a growth refused at once; false, for growUntil to resolve with. */
  refuseGrowth(): false {
    this.counts.growthRefused++;
    return false;
  }

  /** @internal Queues a growth of a running request (see Reservation.growUntil). */
  waitToGrow(r: Reservation, n: number): Promise<boolean> {
    // take() counted a refusal; this one waits instead.
    this.counts.growthRefused--;
    this.counts.growthWaited++;
    return new Promise((resolve) => {
      this.growing.push({ r, n, resolve });
      this.pump();
    });
  }

  /**
   * @internal `n` of a reservation's slots come back, and it stops running unless it was already
   * held; waiting growths, then waiting requests, that now fit go on, in order.
   */
  give(r: Reservation, n: number, running = true): void {
    this.reserved -= n;
    if (running) this.running.delete(r);
    this.dropGrowths(r);
    this.pump();
  }

  /** The growths `r` waits for fail (it ended or was preempted). */
  private dropGrowths(r: Reservation): void {
    for (let i = this.growing.length - 1; i >= 0; i--) if (this.growing[i].r === r) this.growing.splice(i, 1)[0].resolve(false);
  }

  /** @internal */
  dequeue(r: Reservation): void {
    const i = this.queue.indexOf(r);
    if (i >= 0) this.queue.splice(i, 1);
    // The request that blocked the head may be gone: others may fit now.
    this.pump();
  }

  /**
   * Growths first, in order, each as soon as it fits (no request is admitted while one waits, so
   * none is passed for ever); then new requests, strict FIFO: the head waits until it fits and
   * nobody passes it (no starvation of large requests). When every running request waits to grow,
   * one is preempted (or, failing that, the latest growth refused) so that the others go on.
   */
  private pump(): void {
    for (let i = 0; i < this.growing.length; ) {
      const g = this.growing[i];
      if (this.reserved + g.n > this.totalSlots) i++;
      else {
        this.growing.splice(i, 1);
        this.reserved += g.n;
        g.resolve(true);
      }
    }
    if (this.growing.length > 0 && new Set(this.growing.map((g) => g.r)).size >= this.running.size) return this.unblock();
    while (this.growing.length === 0 && this.queue.length > 0 && this.reserved + this.queue[0].slots <= this.totalSlots) this.admit(this.queue.shift()!, true);
  }

  /**
   * Every running request waits to grow: preempts the latest admitted one that can rerun, unless it
   * is the only one (freeing it would help nobody: what it waits for is held between chat turns);
   * else refuses the latest growth. The preempted request's release pumps again.
   */
  private unblock(): void {
    let victim: Reservation | undefined;
    if (this.running.size > 1) for (const r of this.running) if (r.onPreempt && r.isGranted && r.order > (victim?.order ?? 0)) victim = r;
    if (victim) {
      this.counts.preemptions++;
      this.dropGrowths(victim);
      victim.preempt();
      return;
    }
    this.counts.growthRefused++;
    this.growing.pop()!.resolve(false);
    this.pump();
  }

  private admit(r: Reservation, queued: boolean): void {
    this.reserved += r.slots;
    this.running.add(r);
    r.order = ++this.admissions;
    r.grant(queued);
    this.counts.queueWaitMs += r.waitedMs;
    if (r.resumed) return;
    this.counts.admitted++;
    if (queued) this.counts.waited++;
  }
}
