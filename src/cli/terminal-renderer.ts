/**
 * Streams a generation's flat events to a terminal so that parallel paths stay readable: the root
 * text flows as it comes; a fork prints its header at once, and each path is shown whole, on its
 * own labelled line (indented by depth, coloured on a TTY), when its block merges. Paths decode in
 * lockstep, so printing them token by token would interleave them beyond reading: their text waits
 * in the branch tree, and a merged path is drawn from it, nested blocks inside its line.
 */
import { branchDepth, pathIndex } from '../engine/branch-path.js';
import { BranchTree, type TreeBranch, type TreeFork } from '../rx/branch-tree.js';
import type { GenerationEvent } from '../rx/events.js';

const COLOURS = [36, 33, 35, 32, 34, 31];

export class TerminalRenderer {
  private readonly tree = new BranchTree('0');

  constructor(
    private readonly write: (text: string) => void,
    private readonly colour: boolean,
  ) {}

  render(e: GenerationEvent): void {
    if (e.type === 'done') {
      this.write(`${e.tail}\n`);
      return;
    }
    // Only the root prints as it goes; a path's events wait in the tree until its block merges.
    const atRoot = e.branch === this.tree.root.branch;
    if (e.type === 'token') {
      this.tree.token(e);
      if (atRoot) this.write(e.text);
    } else if (e.type === 'fork') {
      const fork = this.tree.fork(e)!;
      if (atRoot) this.write(this.forkHead(e.branch, fork));
    } else {
      const fork = this.tree.join(e);
      if (atRoot && fork) this.write(this.forkBody(e.branch, fork));
    }
  }

  /** A merged path's line: its text with its own blocks drawn inside. */
  private pathLine(path: TreeBranch<never>): string {
    let text = '';
    for (const part of path.parts) text += typeof part === 'string' ? part : this.forkHead(path.branch, part) + (part.joined ? this.forkBody(path.branch, part) : '');
    return `\n${this.indent(path.branch)}${this.paint(path.branch, `[${path.label}]`)} ${text}${path.truncated ? ' (truncated)' : ''}`;
  }

  private forkHead(branch: string, fork: TreeFork<never>): string {
    const dropped = fork.dropped ? ` (${fork.dropped} more outlines dropped)` : '';
    return `\n${this.indent(branch)}${this.paint(branch, `┌ fork: ${fork.paths.length} paths${dropped}`)}`;
  }

  /** A merged block: each path's line, then the merge bar. */
  private forkBody(branch: string, fork: TreeFork<never>): string {
    const truncated = fork.paths.filter((p) => p.truncated).length;
    const merged = `└ merged ${fork.paths.length} paths${truncated ? `, ${truncated} truncated` : ''}`;
    return `${fork.paths.map((p) => this.pathLine(p)).join('')}\n${this.indent(branch)}${this.paint(branch, merged)}\n${this.indent(branch)}`;
  }

  private indent(branch: string): string {
    return '  '.repeat(branchDepth(branch));
  }

  private paint(branch: string, text: string): string {
    if (!this.colour) return text;
    const code = COLOURS[(pathIndex(branch) || 0) % COLOURS.length];
    return `\x1b[${code}m${text}\x1b[0m`;
  }
}
