/**
 * An append-only list shared between forks the way the KV is: sealed chunks plus an own tail, so
 * fork and merge copy chunk references, never the items. A sequence's transcript (transcript.ts)
 * is one.
 */
export class SharedList<T> {
  private constructor(
    /** Sealed chunks: never pushed to again, so children can hold them. */
    private chunks: readonly (readonly T[])[],
    private own: T[],
  ) {}

  static of<T>(items: readonly T[]): SharedList<T> {
    return new SharedList<T>([], [...items]);
  }

  push(...items: T[]): void {
    this.own.push(...items);
  }

  /** A child that holds everything this one does, then its own items. Seals this list's tail. */
  fork(): SharedList<T> {
    this.seal();
    return new SharedList(this.chunks, []);
  }

  /**
   * This list followed by what each child added after forking from it, in order.
   * @throws Error when this list grew after the fork (the children never saw that part).
   */
  merge(children: readonly SharedList<T>[]): SharedList<T> {
    if (this.own.length > 0) throw new Error('SharedList.merge: the parent grew after forking');
    const depth = this.chunks.length;
    // Children are finished when they merge, so their tails can be held as chunks as they are.
    return new SharedList([...this.chunks, ...children.flatMap((c) => [...c.chunks.slice(depth), c.own])], []);
  }

  /** Visits every item in order without copying them into a new array. */
  forEach(visit: (item: T) => void): void {
    for (const chunk of this.chunks) for (const item of chunk) visit(item);
    for (const item of this.own) visit(item);
  }

  private seal(): void {
    if (this.own.length === 0) return;
    this.chunks = [...this.chunks, this.own];
    this.own = [];
  }
}
