/**
 * A request's handle on one native sequence: where its next token goes (position), what it has
 * seen (for the repetition penalty), its own random stream, and fork/merge/release that keep the
 * request's bookkeeping and the native KV in step.
 */
import type { LogitsRequest } from '../native/binding.js';
import { GenerationError } from './errors.js';
import type { RequestContext } from './request-context.js';
import type { Rng } from './rng.js';
import type { SharedList } from './shared-list.js';

export class SeqHandle {
  private released = false;
  /** Forks made from this sequence (and the sequences it continues): each gets fresh child streams. */
  private forkCount = 0;
  /** A token in the transcript whose KV is not computed yet (see defer). */
  private pending?: { token: number; position: number };
  /** Logits after the last token stepped: what the next token is drawn from. */
  lastLogits?: Float32Array;

  /** @internal Use RequestContext.createSequence, fork or merge. */
  constructor(
    readonly request: RequestContext,
    readonly id: number,
    /** Branch path: '0' for the root, '0/1' for its second child, and so on. */
    readonly branch: string,
    /** Position id the next token takes. */
    public nextPos: number,
    readonly rng: Rng,
    readonly history: SharedList<number>,
    /** Text this sequence emitted (all of its branch's text, in merge order, after merges). */
    readonly text: SharedList<string>,
  ) {
    request.live.add(this);
  }

  /** Tokens in this sequence's KV (shared prefix included). */
  get length(): number {
    return this.request.engine.sequenceLength(this.id);
  }

  /**
   * Steps `tokens` at `positions` (default: consecutive from nextPos) and resolves with the logits
   * asked for. nextPos becomes the last position + 1. Rejects with GenerationError (KV_EXHAUSTED,
   * ENGINE_ERROR, MODEL_DISPOSED).
   */
  feed(tokens: number[], logits: LogitsRequest = 'last', positions?: number[]): Promise<Float32Array> {
    // A released id may already belong to another request's new sequence: never step it.
    if (this.released) return Promise.reject(new GenerationError('CANCELLED', `sequence of branch ${this.branch} was released`));
    const pos = positions ?? tokens.map((_, i) => this.nextPos + i);
    this.nextPos = pos[pos.length - 1] + 1;
    this.history.push(...tokens);
    // A deferred token goes first, in the same step; its logits row is not returned.
    const deferred = this.pending;
    this.pending = undefined;
    const stepTokens = deferred ? [deferred.token, ...tokens] : tokens;
    const stepPos = deferred ? [deferred.position, ...pos] : pos;
    return this.step(stepTokens, stepPos, logits).then((out) => (deferred && logits === 'all' ? out.subarray(this.request.vocabSize) : out));
  }

  private step(tokens: number[], positions: number[], logits: LogitsRequest): Promise<Float32Array> {
    try {
      this.request.charge(tokens.length);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.request.loop.run(this.id, tokens, positions, logits, this.request.id).then((out) => {
      if (out.length > 0) this.lastLogits = out.subarray(out.length - this.request.vocabSize);
      return out;
    });
  }

  /**
   * Appends a token to the transcript without stepping it: the last token of a finished sequence
   * needs no KV unless someone continues from it. Any later feed or settle steps it first.
   */
  defer(token: number): void {
    this.pending = { token, position: this.nextPos };
    this.history.push(token);
    this.nextPos++;
  }

  /** Steps a deferred token, if any, and resolves with the logits after the last token. */
  async settle(): Promise<Float32Array> {
    if (this.pending) {
      const { token, position } = this.pending;
      this.pending = undefined;
      await this.step([token], [position], 'last');
    }
    if (!this.lastLogits) throw new GenerationError('INVALID_REQUEST', `branch ${this.branch} has no tokens to continue from`);
    return this.lastLogits;
  }

  /**
   * n children sharing this sequence's KV; child i is branch `${branch}/${i}`, with a random
   * stream derived from this one's, the fork's ordinal and i (so a second fork never replays the
   * first one's draws).
   */
  fork(n: number): SeqHandle[] {
    if (this.pending) throw new Error('SeqHandle.fork: settle() the deferred token first');
    const streams = this.rng.derive(this.forkCount++);
    const t0 = performance.now();
    const ids = this.request.engine.fork(this.id, n);
    this.request.forkLatencyMs.push(performance.now() - t0);
    this.request.kvSlotsSaved += (n - 1) * this.length;
    return ids.map((id, i) => new SeqHandle(this.request, id, `${this.branch}/${i}`, this.nextPos, streams.derive(i), this.history.fork(), this.text.fork()));
  }

  /**
   * The continuation after a fork: this sequence's KV, then each child's own KV in order, then new
   * tokens at `nextPos` (the largest next position among the children). Same branch and random
   * stream as this sequence. This handle and the children stay live until released.
   */
  merge(children: readonly SeqHandle[]): SeqHandle {
    const t0 = performance.now();
    const id = this.request.engine.merge(this.id, children.map((c) => c.id));
    this.request.mergeLatencyMs.push(performance.now() - t0);
    if ([this, ...children].some((c) => c.pending)) throw new Error('SeqHandle.merge: settle() deferred tokens first');
    const nextPos = Math.max(...children.map((c) => c.nextPos));
    const merged = new SeqHandle(this.request, id, this.branch, nextPos, this.rng, this.history.merge(children.map((c) => c.history)), this.text.merge(children.map((c) => c.text)));
    merged.forkCount = this.forkCount;
    merged.lastLogits = children[children.length - 1].lastLogits;
    return merged;
  }

  /** Drops queued work and frees this sequence's hold on its KV. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.request.live.delete(this);
    this.request.loop.release(this.id);
  }
}
