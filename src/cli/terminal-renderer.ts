/**
 * Streams a generation's flat events to a terminal so that parallel paths stay readable: the root
 * text flows inline; whenever another branch speaks, a new line opens with that branch's label
 * (`  [1.2] …`, indented by depth, coloured on a TTY); forks and merges get a line of their own.
 */
import type { GenerationEvent } from '../rx/events.js';

const COLOURS = [36, 33, 35, 32, 34, 31];

export class TerminalRenderer {
  private current = '0';
  /** Outline label of each live path, for its line prefix. */
  private readonly labels = new Map<string, string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly colour: boolean,
  ) {}

  render(e: GenerationEvent): void {
    if (e.type === 'token') {
      if (e.branch !== this.current) this.switchTo(e.branch);
      this.write(e.text);
    } else if (e.type === 'fork') {
      for (const p of e.paths) this.labels.set(p.branch, p.label);
      const dropped = e.dropped ? ` (${e.dropped} more outlines dropped)` : '';
      this.line(e.branch, this.paint(e.branch, `┌ fork: ${e.paths.length} paths${dropped}`));
    } else if (e.type === 'join') {
      const truncated = e.paths.filter((p) => p.truncated).length;
      this.line(e.branch, this.paint(e.branch, `└ merged ${e.paths.length} paths${truncated ? `, ${truncated} truncated` : ''}`));
      this.current = e.branch;
      this.write(`\n${this.indent(e.branch)}`);
    } else {
      this.write(`${e.tail}\n`);
    }
  }

  private switchTo(branch: string): void {
    this.current = branch;
    const label = this.labels.get(branch);
    this.write(`\n${this.indent(branch)}${label ? this.paint(branch, `[${label}] `) : ''}`);
  }

  private line(branch: string, text: string): void {
    this.write(`\n${this.indent(branch)}${text}`);
    this.current = '';
  }

  private indent(branch: string): string {
    return '  '.repeat(branch.split('/').length - 1);
  }

  private paint(branch: string, text: string): string {
    if (!this.colour) return text;
    const code = COLOURS[(Number(branch.split('/').at(-1)) || 0) % COLOURS.length];
    return `\x1b[${code}m${text}\x1b[0m`;
  }
}
