/**
 * Streams a generation's flat events to a terminal so that parallel paths stay readable: the root
 * text flows as it comes; a fork prints its header at once, and each path is shown whole, on its
 * own labelled line (indented by depth, coloured on a TTY), when its block merges. Paths decode in
 * lockstep, so printing them token by token would interleave them beyond reading.
 */
import { branchDepth, pathIndex } from '../engine/branch-path.js';
import type { GenerationEvent } from '../rx/events.js';

const COLOURS = [36, 33, 35, 32, 34, 31];

export class TerminalRenderer {
  /** Text of every path still running, by branch path; nested blocks render into their path. */
  private readonly buffers = new Map<string, string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly colour: boolean,
  ) {}

  render(e: GenerationEvent): void {
    if (e.type === 'token') {
      this.out(e.branch, e.text);
    } else if (e.type === 'fork') {
      for (const p of e.paths) this.buffers.set(p.branch, '');
      const dropped = e.dropped ? ` (${e.dropped} more outlines dropped)` : '';
      this.out(e.branch, `\n${this.indent(e.branch)}${this.paint(e.branch, `┌ fork: ${e.paths.length} paths${dropped}`)}`);
    } else if (e.type === 'join') {
      for (const p of e.paths) {
        const text = this.buffers.get(p.branch) ?? '';
        this.buffers.delete(p.branch);
        this.out(e.branch, `\n${this.indent(p.branch)}${this.paint(p.branch, `[${p.label}]`)} ${text}${p.truncated ? ' (truncated)' : ''}`);
      }
      const truncated = e.paths.filter((p) => p.truncated).length;
      this.out(e.branch, `\n${this.indent(e.branch)}${this.paint(e.branch, `└ merged ${e.paths.length} paths${truncated ? `, ${truncated} truncated` : ''}`)}\n${this.indent(e.branch)}`);
    } else {
      this.write(`${e.tail}\n`);
    }
  }

  private out(branch: string, text: string): void {
    const buffer = this.buffers.get(branch);
    if (buffer === undefined) this.write(text);
    else this.buffers.set(branch, buffer + text);
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
