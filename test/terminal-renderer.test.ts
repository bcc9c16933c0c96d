/** The terminal view of parallel paths: hand-written events, hand-written expected screen text. */
import { describe, expect, it } from 'vitest';
import { TerminalRenderer } from '../src/cli/terminal-renderer.js';
import type { GenerationEvent } from '../src/rx/events.js';

const tok = (branch: string, text: string): GenerationEvent => ({ type: 'token', branch, tokenId: 1, position: 0, text, logprob: 0 });
const paths = [
  { branch: '0/0', label: '1', outline: 'a' },
  { branch: '0/1', label: '2', outline: 'b' },
];

describe('TerminalRenderer', () => {
  it('shows each path whole on its labelled line when the block merges', () => {
    let out = '';
    const r = new TerminalRenderer((t) => (out += t), false);
    const events: GenerationEvent[] = [
      tok('0', 'Plan</Goal>'),
      { type: 'fork', branch: '0', goal: '<Goal>…</Goal>', paths, dropped: 0 },
      tok('0/0', '<Path>1:'),
      tok('0/1', '<Path>2:'),
      tok('0/0', ' x</Path>'),
      tok('0/1', ' y</Path>'),
      { type: 'join', branch: '0', paths: paths.map((p) => ({ ...p, tokens: 3, truncated: p.label === '2' })) },
      tok('0', '<Conclusion> xy'),
    ];
    events.forEach((e) => r.render(e));
    expect(out).toBe('Plan</Goal>\n┌ fork: 2 paths\n  [1] <Path>1: x</Path>\n  [2] <Path>2: y</Path> (truncated)\n└ merged 2 paths, 1 truncated\n<Conclusion> xy');
  });

  it('draws a nested block inside its path\'s line, indented one level deeper', () => {
    let out = '';
    const r = new TerminalRenderer((t) => (out += t), false);
    const outer = [{ branch: '0/0', label: '1', outline: 'x' }, { branch: '0/1', label: '2', outline: 'y' }];
    const inner = [{ branch: '0/0/0', label: '1.1', outline: 'p' }, { branch: '0/0/1', label: '1.2', outline: 'q' }];
    const events: GenerationEvent[] = [
      tok('0', 'R'),
      { type: 'fork', branch: '0', goal: 'g', paths: outer, dropped: 2 },
      tok('0/0', 'x'),
      tok('0/1', 'y1'),
      { type: 'fork', branch: '0/0', goal: 'g2', paths: inner, dropped: 0 },
      tok('0/0/1', 'q'),
      tok('0/0/0', 'p'),
      tok('0/1', 'y2'),
      { type: 'join', branch: '0/0', paths: inner.map((p) => ({ ...p, tokens: 1, truncated: p.label === '1.2' })) },
      tok('0/0', 'X'),
      { type: 'join', branch: '0', paths: outer.map((p) => ({ ...p, tokens: 2, truncated: false })) },
      tok('0', 'C'),
    ];
    events.forEach((e) => r.render(e));
    expect(out).toBe(
      'R\n┌ fork: 2 paths (2 more outlines dropped)\n  [1] x\n  ┌ fork: 2 paths\n    [1.1] p\n    [1.2] q (truncated)\n  └ merged 2 paths, 1 truncated\n  X\n  [2] y1y2\n└ merged 2 paths\nC',
    );
  });
});
