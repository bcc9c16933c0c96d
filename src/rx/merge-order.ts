/**
 * Puts a generation's tokens in merge order (the order of the final transcript) while they stream.
 * Paths decode side by side, but in the transcript a fork's paths follow one another in label
 * order. A sequence resumes only after all of its paths have ended (joined), so when a token of
 * branch B arrives, everything held for B's descendants is complete: it is placed after B's earlier
 * tokens, paths by index (which is label order), each path followed by its own unplaced paths.
 */
import { parentBranch, pathIndex } from '../engine/branch-path.js';

export class MergeOrder<T> {
  /** Tokens of branches below the root, by branch, waiting for their parent to move on. */
  private readonly held = new Map<string, T[]>();

  constructor(
    /** The branch whose tokens go straight out ('0', or a choice's branch such as '0/2'). */
    private readonly root: string,
    private readonly out: (item: T) => void,
  ) {}

  push(branch: string, item: T): void {
    const placed = this.collapse(branch);
    if (branch === this.root) {
      for (const p of [...placed, item]) this.out(p);
      return;
    }
    const list = this.held.get(branch) ?? [];
    list.push(...placed, item);
    this.held.set(branch, list);
  }

  /** Releases what is still held (the generation ended inside a fork). */
  end(): void {
    for (const p of this.collapse(this.root)) this.out(p);
  }

  /** Removes and returns, in merge order, everything held for the descendants of `branch`. */
  private collapse(branch: string): T[] {
    const children = [...this.held.keys()]
      .filter((b) => parentBranch(b) === branch)
      .sort((a, b) => pathIndex(a) - pathIndex(b));
    return children.flatMap((child) => {
      const own = this.held.get(child)!;
      this.held.delete(child);
      return [...own, ...this.collapse(child)];
    });
  }
}
