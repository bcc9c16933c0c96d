/**
 * One native sequence and everything TypeScript knows about it: its native id, the position its
 * next token takes, its transcript (the token ids in its KV, for the repetition penalty, with the
 * text their events showed, in merge order: transcript.ts), its own random stream, and the logits
 * after its last step. It reaches the engine through one seam, `SequenceEngine` (the step loop),
 * and reports to the owner that holds it (a request, or a chat's conversation between turns)
 * through `SequenceOwner`; neither knows the other.
 *
 * Contract: a sequence steps one job at a time (feed/settle); fork, merge and continueIn need no
 * deferred token (settle first) and never leave a native sequence unowned, even when they throw.
 */
import type { LogitsRequest } from '../native/binding.js';
import { GenerationError } from './errors.js';
import type { Rng } from './rng.js';
import type { Transcript } from './transcript.js';

/** What a sequence asks of the engine (implemented by StepLoop). */
export interface SequenceEngine {
  readonly vocabSize: number;
  /** Steps tokens at positions in the next batch; resolves with the logits asked for. `owner` is the unit of fairness. */
  run(seq: number, tokens: number[], positions: number[], logits: LogitsRequest, owner: number): Promise<Float32Array>;
  /** n new native sequences sharing `seq`'s KV, each with a fresh segment. */
  fork(seq: number, n: number): number[];
  /** A native sequence of `parent`'s KV then each child's own KV, in order. */
  merge(parent: number, children: number[]): number;
  /** Drops queued work and frees the native sequence's hold on its KV. */
  release(seq: number): void;
  /** Tokens in the native sequence's KV, shared prefix included. */
  length(seq: number): number;
}

/** What a sequence belongs to (implemented by RequestContext; a chat holds its conversation with another). */
export interface SequenceOwner {
  /** The request's id: the step loop's unit of fairness. */
  readonly id: number;
  /** Counts `n` slots about to be stepped. @throws GenerationError KV_EXHAUSTED past the request's KV reservation. */
  charge(n: number): void;
  /** A sequence came to life (it is released with the request) or was released. */
  track(seq: Sequence): void;
  untrack(seq: Sequence): void;
  /** A native fork took `ms` and shared `slotsSaved` KV slots that copies would have needed. */
  forked(ms: number, slotsSaved: number): void;
  /** A native merge took `ms`. */
  merged(ms: number): void;
}

export class Sequence {
  private released = false;
  /** Forks made from this sequence (and the sequences it continues): each gets fresh child streams. */
  private forkCount = 0;
  /** A token in the transcript whose KV is not computed yet (see defer). */
  private pending?: { token: number; position: number };
  private logitsAfterLast?: Float32Array;

  /** @internal Use RequestContext.createSequence, fork, merge or continueIn. */
  constructor(
    private readonly owner: SequenceOwner,
    private readonly engine: SequenceEngine,
    readonly id: number,
    /** Branch path: '0' for the root, '0/1' for its second child, and so on. */
    readonly branch: string,
    private next: number,
    readonly rng: Rng,
    private readonly transcript: Transcript,
  ) {
    owner.track(this);
  }

  /** Position id the next token takes. */
  get nextPos(): number {
    return this.next;
  }

  /** Logits after the last token stepped: what the next token is drawn from. */
  get lastLogits(): Float32Array | undefined {
    return this.logitsAfterLast;
  }

  /** Tokens in this sequence's KV (shared prefix included). */
  get length(): number {
    return this.engine.length(this.id);
  }

  /** Token ids in its transcript, deferred ones included. */
  get tokenCount(): number {
    return this.transcript.tokenCount;
  }

  /** The token ids in its transcript, in merge order: what the repetition penalty sees. */
  tokenIds(): number[] {
    return this.transcript.tokenIds();
  }

  /** Its transcript: the token ids, and the text their events showed (all of its branch's, in merge order). */
  written(): { tokenIds: number[]; text: string } {
    return { tokenIds: this.transcript.tokenIds(), text: this.transcript.text() };
  }

  /** Text released after its tokens were written (held back until a run ended): see transcript.ts. */
  appendText(text: string): void {
    this.transcript.write([], text);
  }

  /**
   * Steps `tokens` at `positions` (default: consecutive from nextPos) and resolves with the logits
   * asked for; `text` is what their events show (a prompt shows none). nextPos becomes the last
   * position + 1. Rejects with GenerationError (KV_EXHAUSTED, ENGINE_ERROR, MODEL_DISPOSED,
   * CANCELLED once released).
   */
  feed(tokens: number[], logits: LogitsRequest = 'last', positions?: number[], text = ''): Promise<Float32Array> {
    // A released id may already belong to another request's new sequence: never step it.
    if (this.released) return Promise.reject(new GenerationError('CANCELLED', `sequence of branch ${this.branch} was released`));
    const pos = positions ?? tokens.map((_, i) => this.next + i);
    this.next = pos[pos.length - 1] + 1;
    this.transcript.write(tokens, text);
    // A deferred token goes first, in the same step; its logits row is not returned.
    const deferred = this.pending;
    if (!deferred) return this.step(tokens, pos, logits, false);
    this.pending = undefined;
    return this.step([deferred.token, ...tokens], [deferred.position, ...pos], logits, logits === 'all');
  }

  /**
   * Appends a token (and the text its event showed) to the transcript without stepping it: the
   * last token of a finished sequence needs no KV unless someone continues from it. Any later
   * feed or settle steps it first.
   */
  defer(token: number, text = ''): void {
    this.pending = { token, position: this.next };
    this.transcript.write([token], text);
    this.next++;
  }

  /** Steps a deferred token, if any, and resolves with the logits after the last token. */
  async settle(): Promise<Float32Array> {
    if (this.pending) {
      const { token, position } = this.pending;
      this.pending = undefined;
      await this.step([token], [position], 'last', false);
    }
    if (!this.logitsAfterLast) throw new GenerationError('INVALID_REQUEST', `branch ${this.branch} has no tokens to continue from`);
    return this.logitsAfterLast;
  }

  /**
   * n children sharing this sequence's KV; child i is branch `${branch}/${i}`, with a random
   * stream derived from this one's, the fork's ordinal and i (so a second fork never replays the
   * first one's draws).
   * @throws Error while a token is deferred (settle() first).
   */
  fork(n: number): Sequence[] {
    if (this.pending) throw new Error('Sequence.fork: settle() the deferred token first');
    const streams = this.rng.derive(this.forkCount++);
    const t0 = performance.now();
    const ids = this.engine.fork(this.id, n);
    this.owner.forked(performance.now() - t0, (n - 1) * this.length);
    return ids.map((id, i) => this.child(this.owner, id, `${this.branch}/${i}`, streams.derive(i)));
  }

  /**
   * This sequence continued by another owner (a chat turn from the held conversation, the
   * conversation from its last turn): a one-child native fork at the same next position, with the
   * same transcript behind it, on branch `branch` and random stream `rng`. Not one of either
   * owner's Multiverse forks (their stats do not count it); this sequence stays live until released.
   * @throws Error while a token is deferred (settle() first).
   */
  continueIn(owner: SequenceOwner, branch: string, rng: Rng): Sequence {
    if (this.pending) throw new Error('Sequence.continueIn: settle() the deferred token first');
    return this.child(owner, this.engine.fork(this.id, 1)[0], branch, rng);
  }

  /**
   * The continuation after a fork: this sequence's KV, then each child's own KV in order, then new
   * tokens at `nextPos` (the largest next position among the children). Same branch and random
   * stream as this sequence. This sequence and the children stay live until released.
   * @throws Error while any of them has a deferred token (settle() first); nothing is merged then.
   */
  merge(children: readonly Sequence[]): Sequence {
    // Checked before the native merge: a merged sequence made and then abandoned would hold its KV.
    if ([this, ...children].some((c) => c.pending)) throw new Error('Sequence.merge: settle() deferred tokens first');
    const t0 = performance.now();
    const id = this.engine.merge(this.id, children.map((c) => c.id));
    this.owner.merged(performance.now() - t0);
    const next = Math.max(...children.map((c) => c.next));
    const merged = new Sequence(this.owner, this.engine, id, this.branch, next, this.rng, this.transcript.merge(children.map((c) => c.transcript)));
    merged.forkCount = this.forkCount;
    merged.logitsAfterLast = children[children.length - 1].logitsAfterLast;
    return merged;
  }

  /** Drops queued work and frees this sequence's hold on its KV. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.untrack(this);
    this.engine.release(this.id);
  }

  /** A sequence on native `id`, a fork of this one: it stands where this one does. */
  private child(owner: SequenceOwner, id: number, branch: string, rng: Rng): Sequence {
    const child = new Sequence(owner, this.engine, id, branch, this.next, rng, this.transcript.fork());
    // Its first token is drawn from where this sequence stands.
    child.logitsAfterLast = this.logitsAfterLast;
    return child;
  }

  /** Runs tokens through the engine; `dropFirstRow`: the first of 'all' rows belongs to a deferred token and is not returned. */
  private step(tokens: number[], positions: number[], logits: LogitsRequest, dropFirstRow: boolean): Promise<Float32Array> {
    try {
      this.owner.charge(tokens.length);
    } catch (err) {
      return Promise.reject(err);
    }
    // One continuation per step (this runs for every decoded token).
    return this.engine.run(this.id, tokens, positions, logits, this.owner.id).then((out) => {
      const vocab = this.engine.vocabSize;
      if (out.length > 0) this.logitsAfterLast = out.subarray(out.length - vocab);
      return dropFirstRow ? out.subarray(vocab) : out;
    });
  }
}
