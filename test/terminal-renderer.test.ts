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
});
