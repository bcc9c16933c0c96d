/**
 * A sequence on a remote server as the remote executor sees it. There is no KV and no position
 * id on our side, only text: `context` is what a request continuing this sequence sends (prompt,
 * generated text, forced openers), `shown` what its token events showed (held-back stop-string
 * text excluded), `tokenIds` its tokens (-1 where the server names none).
 *
 * `nextPos` counts tokens in Multiverse layout from the run's start: the paths of one block all
 * start at the fork's count, and a merge continues after the longest path, so the critical path
 * is the root's final count. Counts come from the streamed tokens and the servers' usage.
 *
 * Fork copies nothing that matters (strings are immutable; the server's prefix cache is what
 * shares the prefix); merge is the parent's text plus each child's own text in order.
 */
export class RemoteSequence {
  /** Requests this sequence has made. */
  requests = 0;
  /** performance.now() at creation and at its first streamed chunk: fork and merge latency. */
  readonly createdAt = performance.now();
  firstChunkAt?: number;

  private constructor(
    /** Branch path: '0' for the root, '0/1' for its second path, and so on. */
    readonly branch: string,
    /** How it came to be: a merge's first request is the remote cost of that merge. */
    readonly origin: 'start' | 'fork' | 'merge',
    public context: string,
    public shown: string,
    readonly tokenIds: number[],
    public nextPos: number,
  ) {}

  /** A sequence of `prompt`, nothing generated yet. */
  static start(branch: string, prompt: string): RemoteSequence {
    return new RemoteSequence(branch, 'start', prompt, '', [], 0);
  }

  /** Adds a token: its text (sent with the next request), what its event shows, and its id. */
  push(text: string, shown: string, tokenId: number): void {
    this.context += text;
    this.shown += shown;
    this.tokenIds.push(tokenId);
    this.nextPos++;
  }

  /** Text for the server only (a session branch's own prompt): no token, nothing shown. */
  extend(text: string): void {
    this.context += text;
  }

  /** n children, `${branch}/${i}`, each continuing from here. */
  fork(n: number): RemoteSequence[] {
    return Array.from({ length: n }, (_, i) => new RemoteSequence(`${this.branch}/${i}`, 'fork', this.context, this.shown, [...this.tokenIds], this.nextPos));
  }

  /** True when `other` continues this sequence (a fork of it, or of one of its forks). */
  precedes(other: RemoteSequence): boolean {
    return other.context.startsWith(this.context) && other.tokenIds.length >= this.tokenIds.length;
  }

  /**
   * This sequence followed by each child's own part, in order; the count continues after the
   * longest child. Same branch as this one.
   */
  merge(children: readonly RemoteSequence[]): RemoteSequence {
    const own = (pick: (s: RemoteSequence) => string) => children.map((c) => pick(c).slice(pick(this).length)).join('');
    return new RemoteSequence(
      this.branch,
      'merge',
      this.context + own((s) => s.context),
      this.shown + own((s) => s.shown),
      [...this.tokenIds, ...children.flatMap((c) => c.tokenIds.slice(this.tokenIds.length))],
      Math.max(this.nextPos, ...children.map((c) => c.nextPos)),
    );
  }
}
