/**
 * The stream of a request that runs again after a preemption (engine/admission.ts): each event
 * reaches the consumer once. A branch writes the same events in every run (the same decode steps,
 * the same seeded sampling), but branches may interleave differently, so the gate counts per
 * branch: a rerun's events up to where the branch had got are checked against what was sent and
 * dropped, the rest pass. The consumer sees a pause.
 */
import { GenerationError } from '../engine/errors.js';
import type { GenerationEvent } from './events.js';

/** What identifies an event within its branch: a token's id, else the event's type. */
type EventKey = number | string;

export class ReplayGate {
  /** Per branch, the keys of the events sent so far. */
  private readonly sent = new Map<string, EventKey[]>();
  /** Per branch, the events the current run has written. */
  private written = new Map<string, number>();

  /** A new run starts from the prompt. */
  rerun(): void {
    this.written = new Map();
  }

  /**
   * Whether `event` (a token, fork or join) is new to the consumer.
   * @throws GenerationError ENGINE_ERROR when a rerun writes other than what was sent (a
   *   `pickToken` hook or a backend that does not repeat itself).
   */
  pass(event: Exclude<GenerationEvent, { type: 'done' }>): boolean {
    const key: EventKey = event.type === 'token' ? event.tokenId : event.type;
    let sent = this.sent.get(event.branch);
    if (!sent) this.sent.set(event.branch, (sent = []));
    const i = this.written.get(event.branch) ?? 0;
    this.written.set(event.branch, i + 1);
    if (i === sent.length) {
      sent.push(key);
      return true;
    }
    if (sent[i] !== key) {
      throw new GenerationError('ENGINE_ERROR', `the request was preempted for KV and ran again, and branch ${event.branch} wrote ${String(key)} where it had sent ${String(sent[i])}: its decoding does not repeat itself (a pickToken hook that depends on more than its arguments?)`);
    }
    return false;
  }
}
