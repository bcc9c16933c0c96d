/**
 * KV admission (DESIGN.md §2): before its first step a request reserves the KV slots its worst case
 * needs, or waits in a bounded FIFO queue until reservations leave room for it. Reservations never
 * add up to more than the pool, and a request steps no more tokens than it reserved (Sequence
 * charges every token), so a step never finds the pool full: a stream that has started is never
 * failed for lack of KV.
 *
 * Why reserve rather than admit optimistically and preempt (vLLM, SGLang): preempting a request
 * whose KV is a tree of forked paths means re-prefilling that tree later and replaying its stream
 * position; a reservation is a counter. The cost is capacity held for tokens a request may never
 * write; it is bounded because the reservation covers only the critical path (prompt + maxTokens),
 * and parallel width is reserved when it is known: the `n` branches of a planned session up front,
 * a Multiverse fork's extra paths when the fork happens.
 *
 * Growth: a running request grows its reservation from slots nobody has reserved, ahead of the
 * queue (running work first, as serving engines do). A Multiverse fork that does not fit waits
 * (growUntil) until running requests end, since a model trained to fork writes poorly when made to
 * go on sequentially; new requests are not admitted while a fork waits. When every running request
 * is waiting to grow, nothing would ever end: the latest growth is refused (that fork is written
 * sequentially), so running requests cannot deadlock on each other.
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
  /** Growths refused (a Multiverse fork written sequentially for lack of KV). */
  growthRefused: number;
  /** Growths that had to wait for running requests to end (a Multiverse fork paused). */
  growthWaited: number;
  /** Running requests waiting to grow now. */
  growing: number;
}

/**
 * One request's claim on the pool: queued until granted, then `slots` reserved of which `used`
 * have been stepped (an upper bound of what it holds: released branches are not subtracted).
 */
export class Reservation {
  private state: 'queued' | 'granted' | 'held' | 'released' = 'queued';
  private readonly queuedAt = performance.now();
  /** Milliseconds spent waiting in the queue (0 when admitted at once). */
  waitedMs = 0;
  used = 0;
  /** Resolves when granted; rejects (CANCELLED, MODEL_DISPOSED) when released or closed while queued. */
  readonly granted: Promise<void>;
  private settle!: { resolve(): void; reject(err: Error): void };

  /** @internal Use KvAdmission.reserve. */
  constructor(
    private readonly pool: KvAdmission,
    public slots: number,
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
   * Reserves `n` more slots, waiting for running requests to end when they do not fit now.
   * Resolves false (nothing reserved) when waiting could never succeed: every running request is
   * waiting to grow, or this one was released.
   */
  growUntil(n: number): Promise<boolean> {
    if (this.state !== 'granted') return Promise.resolve(false);
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
    } else this.pool.give(this, this.slots, was === 'granted');
  }
}

export class KvAdmission {
  private reserved = 0;
  private running = 0;
  private readonly queue: Reservation[] = [];
  private closed = false;
  /** Running requests waiting to grow, in order; served before new requests are admitted. */
  private readonly growing: { r: Reservation; n: number; resolve(ok: boolean): void }[] = [];
  private readonly counts = { admitted: 0, waited: 0, queueWaitMs: 0, refused: 0, growthRefused: 0, growthWaited: 0 };
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
   * @throws GenerationError KV_EXHAUSTED when `slots` exceeds the whole pool (it could never run);
   *   OVERLOADED when it would have to wait and `wait` is false or the queue is full;
   *   MODEL_DISPOSED after close().
   */
  reserve(slots: number, wait: boolean): Reservation {
    if (this.closed) throw new GenerationError('MODEL_DISPOSED', 'the model was disposed');
    if (slots > this.totalSlots) {
      throw new GenerationError('KV_EXHAUSTED', `the request needs ${slots} KV slots at worst; the pool holds ${this.totalSlots}`);
    }
    const r = new Reservation(this, slots);
    if (this.queue.length === 0 && this.reserved + slots <= this.totalSlots) {
      this.admit(r, false);
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
    return { totalSlots: this.totalSlots, reservedSlots: this.reserved, running: this.running, queued: this.queue.length, maxQueued: this.maxQueued, growing: this.growing.length, ...this.counts };
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
    if (running) this.running--;
    const waiting = this.growing.findIndex((g) => g.r === r);
    if (waiting >= 0) this.growing.splice(waiting, 1)[0].resolve(false);
    this.pump();
  }

  /** @internal */
  dequeue(r: Reservation): void {
    const i = this.queue.indexOf(r);
    if (i >= 0) this.queue.splice(i, 1);
    // The request that blocked the head may be gone: others may fit now.
    this.pump();
  }

  /**
   * Growths first, then new requests, each strict FIFO: the head waits until it fits and nobody
   * passes it (no starvation of large requests). When every running request waits to grow, the
   * latest growth is refused so that one of them goes on and eventually frees its KV.
   */
  private pump(): void {
    while (this.growing.length > 0 && this.reserved + this.growing[0].n <= this.totalSlots) {
      const g = this.growing.shift()!;
      this.reserved += g.n;
      g.resolve(true);
    }
    if (this.growing.length > 0 && this.growing.length >= this.running) {
      this.counts.growthRefused++;
      this.growing.pop()!.resolve(false);
      return this.pump();
    }
    while (this.growing.length === 0 && this.queue.length > 0 && this.reserved + this.queue[0].slots <= this.totalSlots) this.admit(this.queue.shift()!, true);
  }

  private admit(r: Reservation, queued: boolean): void {
    this.reserved += r.slots;
    this.running++;
    r.grant(queued);
    this.counts.admitted++;
    if (queued) this.counts.waited++;
    this.counts.queueWaitMs += r.waitedMs;
  }
}
