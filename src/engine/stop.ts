/**
 * Stop strings over streamed text, with OpenAI semantics: generation stops as soon as any stop
 * string is complete; the text before it is emitted and the stop string itself is not.
 *
 * Text that could be the start of a stop string is held back until the next push settles it, so
 * a stop split across pushes is never emitted in part. When several stop strings complete in the
 * same push, the one that starts first wins.
 */
export class StopMatcher {
  private readonly stops: readonly string[];
  /** Text received but not yet emitted: always a possible start of some stop string. */
  private pending = '';
  private stopped = false;

  /** @throws RangeError when a stop string is empty (it would match before any text). */
  constructor(stops: readonly string[]) {
    if (stops.some((s) => s.length === 0)) throw new RangeError('stop strings must not be empty');
    this.stops = [...stops];
  }

  /**
   * Takes the next piece of text. `emit` is what may be shown now; `stopped` turns true at the
   * push that completes a stop string, after which every push emits nothing.
   */
  push(text: string): { emit: string; stopped: boolean } {
    if (this.stopped) return { emit: '', stopped: true };
    const buffer = this.pending + text;
    const at = this.firstMatch(buffer);
    if (at >= 0) {
      this.stopped = true;
      this.pending = '';
      return { emit: buffer.slice(0, at), stopped: true };
    }
    const held = this.heldLength(buffer);
    this.pending = buffer.slice(buffer.length - held);
    return { emit: buffer.slice(0, buffer.length - held), stopped: false };
  }

  /** Ends the stream: returns the held-back text (empty once stopped). */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }

  /** Index of the earliest complete stop string in `buffer`, or -1. */
  private firstMatch(buffer: string): number {
    let first = -1;
    for (const stop of this.stops) {
      const i = buffer.indexOf(stop);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    return first;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private heldLength(buffer: string): number {
    let held = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > held; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          held = n;
          break;
        }
      }
    }
    return held;
  }
}
