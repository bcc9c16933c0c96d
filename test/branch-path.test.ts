// Branch paths ('0', '0/1', '0/1/0'): the one helper every layer reads them with.
import { describe, expect, it } from 'vitest';
import { ancestorsOf, branchDepth, childBranch, compareBranches, isWithin, parentBranch, pathIndex, ROOT_BRANCH } from '../src/engine/branch-path.js';

describe('branch paths', () => {
  it('names a fork\'s paths under their parent and reads the parts back', () => {
    const nested = childBranch(childBranch(ROOT_BRANCH, 1), 10);
    expect(nested).toBe('0/1/10');
    expect(parentBranch(nested)).toBe('0/1');
    expect(parentBranch('0/1')).toBe('0');
    expect(parentBranch(ROOT_BRANCH)).toBeUndefined();
    expect([pathIndex(nested), pathIndex('0/1'), pathIndex(ROOT_BRANCH)]).toEqual([10, 1, 0]);
    expect([branchDepth(ROOT_BRANCH), branchDepth('0/1'), branchDepth(nested)]).toEqual([0, 1, 2]);
    expect(ancestorsOf(nested)).toEqual(['0', '0/1', '0/1/10']);
  });

  it('tells nesting from a shared prefix', () => {
    expect(isWithin('0/1/0', '0/1')).toBe(true);
    expect(isWithin('0/1', '0/1')).toBe(true);
    expect(isWithin('0/10', '0/1')).toBe(false);
    expect(isWithin('0/1', '0/1/0')).toBe(false);
  });

  it('sorts in transcript order: numerically at each level, a parent before its paths', () => {
    const shuffled = ['0/10', '0/2/1', '0/2', '0', '0/9', '0/2/0'];
    expect([...shuffled].sort(compareBranches)).toEqual(['0', '0/2', '0/2/0', '0/2/1', '0/9', '0/10']);
  });
});
