// The branch tree every view reads (stages, terminal, viewer, multiverse.tree): hand-written
// event streams against hand-written trees.
import { describe, expect, it } from 'vitest';
import { BranchTree, type BranchNode, type TreeEvent } from '../src/rx/branch-tree.js';

const tok = (branch: string, text: string): TreeEvent => ({ type: 'token', branch, text });
const fork = (branch: string, goal: string, paths: [string, string, string][], dropped = 0): TreeEvent => ({
  type: 'fork',
  branch,
  goal,
  paths: paths.map(([b, label, outline]) => ({ branch: b, label, outline })),
  dropped,
});
const join = (branch: string, paths: [string, string, string, boolean?][]): TreeEvent => ({
  type: 'join',
  branch,
  paths: paths.map(([b, label, outline, truncated]) => ({ branch: b, label, outline, truncated: truncated === true })),
});
const leaf = (branch: string, label: string, outline: string, text: string, tokens: number): BranchNode => ({ branch, label, outline, text, tokens, forks: [] });
const liveOf = (tree: BranchTree) => tree.live().map((b) => b.branch);

describe('BranchTree', () => {
  it('grows a flat fork: paths in label order whatever order they decode in, live until the join', () => {
    const tree = new BranchTree('0');
    const paths: [string, string, string][] = [['0/0', '1', 'a'], ['0/1', '2', 'b']];
    for (const e of [tok('0', 'Q:'), tok('0', '<G>'), fork('0', '<G>', paths, 1), tok('0/1', 'B'), tok('0/0', 'A1'), tok('0/0', 'A2')]) tree.apply(e);
    expect(liveOf(tree)).toEqual(['0', '0/0', '0/1']);
    tree.apply(join('0', paths));
    expect(liveOf(tree)).toEqual(['0']);
    tree.apply(tok('0', ' end'));
    expect(tree.build()).toStrictEqual({
      branch: '0',
      text: 'Q:<G>A1A2B end',
      tokens: 6,
      forks: [{ goal: '<G>', at: 5, paths: [leaf('0/0', '1', 'a', 'A1A2', 2), leaf('0/1', '2', 'b', 'B', 1)], dropped: 1 }],
    });
  });

  it('grows a nested fork inside its path, at the place in the path where it forked', () => {
    const tree = new BranchTree('0');
    const outer: [string, string, string][] = [['0/0', '1', 'x'], ['0/1', '2', 'y']];
    const inner: [string, string, string][] = [['0/0/0', '1.1', 'p'], ['0/0/1', '1.2', 'q']];
    const events = [tok('0', 'R'), fork('0', 'g1', outer), tok('0/0', 'x'), tok('0/1', 'y1'), fork('0/0', 'g2', inner), tok('0/0/1', 'q'), tok('0/0/0', 'p'), tok('0/1', 'y2')];
    for (const e of events) tree.apply(e);
    expect(liveOf(tree)).toEqual(['0', '0/0', '0/1', '0/0/0', '0/0/1']);
    tree.apply(join('0/0', inner));
    expect(liveOf(tree)).toEqual(['0', '0/0', '0/1']);
    for (const e of [tok('0/0', 'X'), join('0', outer), tok('0', 'C')]) tree.apply(e);
    expect(tree.build('!')).toStrictEqual({
      branch: '0',
      text: 'RxpqXy1y2C!',
      tokens: 8,
      forks: [
        {
          goal: 'g1',
          at: 1,
          paths: [
            { branch: '0/0', label: '1', outline: 'x', text: 'xpqX', tokens: 4, forks: [{ goal: 'g2', at: 1, paths: [leaf('0/0/0', '1.1', 'p', 'p', 1), leaf('0/0/1', '1.2', 'q', 'q', 1)] }] },
            leaf('0/1', '2', 'y', 'y1y2', 2),
          ],
        },
      ],
    });
  });

  it('marks a truncated path from its join and counts the tokens of a wire batch', () => {
    const tree = new BranchTree('0');
    const paths: [string, string, string][] = [['0/0', '1', 'a'], ['0/1', '2', 'b']];
    tree.apply(fork('0', 'g', paths));
    tree.apply({ type: 'token', branch: '0/0', text: 'aaa', tokenIds: [5, 6, 7] });
    tree.apply(tok('0/1', 'b'));
    tree.apply(join('0', [paths[0], [...paths[1], true]]));
    tree.apply({ type: 'done' });
    expect(liveOf(tree)).toEqual(['0']);
    expect(tree.build()).toStrictEqual({
      branch: '0',
      text: 'aaab',
      tokens: 4,
      forks: [{ goal: 'g', at: 0, paths: [leaf('0/0', '1', 'a', 'aaa', 3), { ...leaf('0/1', '2', 'b', 'b', 1), truncated: true }] }],
    });
  });

  it('keeps to its root: a choice\'s tree ignores its sibling choices', () => {
    const tree = new BranchTree('0/1');
    for (const e of [tok('0/0', 'other'), tok('0/1', 'mine'), tok('0/10', 'other too')]) tree.apply(e);
    expect(tree.build()).toStrictEqual({ branch: '0/1', text: 'mine', tokens: 1, forks: [] });
    expect(tree.get('0/0')).toBeUndefined();
  });
});
