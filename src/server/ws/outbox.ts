/**
 * One connection's outgoing events, bounded for slow clients. While the socket's send buffer holds
 * more than `coalesceAboveBytes`, token events are held instead of sent, consecutive ones of a
 * branch merged; they go out (one event per branch) once the buffer has drained. Any other event
 * first sends what is held, so fork, join, done and error keep their place after the tokens before
 * them (tokens of different branches may be reordered among themselves, never within a branch).
 * When the buffer and the held tokens together pass `maxQueuedBytes`, `onOverflow` is called: the
 * client is not reading at all.
 */
import type { ServerEvent, WireTokenEvent } from '../../protocol/messages.js';
import { coalesceTokens, serialize } from '../../protocol/write.js';

/** The socket side the outbox needs (a ws WebSocket). */
export interface Sink {
  readonly bufferedAmount: number;
  send(data: string): void;
}

export interface OutboxLimits {
  coalesceAboveBytes: number;
  maxQueuedBytes: number;
  /** Called once when the queue passes maxQueuedBytes. */
  onOverflow(): void;
}

/** How often held tokens check whether the buffer has drained. */
const DRAIN_CHECK_MS = 20;
/** Bytes a held token adds besides its text: ids, position and logprob in the merged event. */
const TOKEN_OVERHEAD_BYTES = 32;

export class Outbox {
  /** Runs of held tokens by request and branch, in the order their first token came. */
  private readonly held = new Map<string, WireTokenEvent[]>();
  private heldBytes = 0;
  private timer?: NodeJS.Timeout;
  private overflowed = false;
  private closed = false;

  constructor(
    private readonly sink: Sink,
    private readonly limits: OutboxLimits,
  ) {}

  push(event: ServerEvent): void {
    if (this.closed) return;
    if (event.type === 'token' && 'tokenId' in event && (this.held.size > 0 || this.sink.bufferedAmount > this.limits.coalesceAboveBytes)) {
      this.hold(event);
      return;
    }
    this.flush();
    this.send(event);
  }

  /** Bytes the client has yet to receive: the socket's buffer and the held tokens. */
  get queuedBytes(): number {
    return this.sink.bufferedAmount + this.heldBytes;
  }

  /** Drops held tokens and stops the drain check (the connection closed); later pushes are ignored. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.held.clear();
    this.heldBytes = 0;
  }

  private hold(event: WireTokenEvent): void {
    const key = JSON.stringify([event.id, event.branch]);
    const run = this.held.get(key);
    if (run) run.push(event);
    else this.held.set(key, [event]);
    this.heldBytes += Buffer.byteLength(event.text) + TOKEN_OVERHEAD_BYTES;
    this.checkOverflow();
    this.timer ??= setTimeout(() => this.drainCheck(), DRAIN_CHECK_MS);
  }

  private drainCheck(): void {
    this.timer = undefined;
    if (this.held.size === 0) return;
    if (this.sink.bufferedAmount <= this.limits.coalesceAboveBytes) this.flush();
    else this.timer = setTimeout(() => this.drainCheck(), DRAIN_CHECK_MS);
  }

  /** Sends every held run, one event per run. */
  private flush(): void {
    if (this.held.size === 0) return;
    const runs = [...this.held.values()];
    this.held.clear();
    this.heldBytes = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const run of runs) this.send(run.length === 1 ? run[0] : coalesceTokens(run));
  }

  private send(event: ServerEvent): void {
    this.sink.send(serialize(event));
    this.checkOverflow();
  }

  private checkOverflow(): void {
    if (this.overflowed || this.queuedBytes <= this.limits.maxQueuedBytes) return;
    this.overflowed = true;
    this.limits.onOverflow();
  }
}
