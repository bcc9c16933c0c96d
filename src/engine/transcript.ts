/**
 * What a sequence has written, in one list shared between forks the way its KV is: pieces, each
 * the token ids stepped (or deferred) together and the text released with them. Fork and merge
 * copy one tree, so ids and text cannot fall out of step.
 *
 * Invariant: the text of a piece is what the events of its tokens showed. Text not shown yet when
 * its token was written (the bytes of an incomplete UTF-8 character, a possible start of a stop
 * string) goes with the piece of the token that releases it, or at the end of a run in a piece of
 * its own with no ids (`write([], tail)`). So `text()` is the events' text in merge order, and
 * `tokenIds()` the ids in the KV in the same order.
 */
import { SharedList } from './shared-list.js';

interface Piece {
  readonly ids: readonly number[];
  readonly text: string;
}

export class Transcript {
  private constructor(
    private readonly pieces: SharedList<Piece>,
    /** Token ids in all pieces, kept so the count is not a walk over them. */
    private count: number,
  ) {}

  static empty(): Transcript {
    return new Transcript(SharedList.of<Piece>([]), 0);
  }

  /** Appends token ids with the text released with them (either may be empty). */
  write(ids: readonly number[], text: string): void {
    if (ids.length === 0 && text === '') return;
    this.pieces.push({ ids: [...ids], text });
    this.count += ids.length;
  }

  get tokenCount(): number {
    return this.count;
  }

  /** A child holding everything written so far, then its own pieces. */
  fork(): Transcript {
    return new Transcript(this.pieces.fork(), this.count);
  }

  /**
   * This transcript followed by what each child wrote after forking from it, in order.
   * @throws Error when this transcript grew after the fork (see SharedList.merge).
   */
  merge(children: readonly Transcript[]): Transcript {
    const pieces = this.pieces.merge(children.map((c) => c.pieces));
    return new Transcript(pieces, children.reduce((n, c) => n + c.count - this.count, this.count));
  }

  tokenIds(): number[] {
    const ids: number[] = [];
    this.pieces.forEach((p) => {
      for (const id of p.ids) ids.push(id);
    });
    return ids;
  }

  text(): string {
    let text = '';
    this.pieces.forEach((p) => (text += p.text));
    return text;
  }
}
