/**
 * Branch paths, the names events give their branch: the root sequence is '0', and the i-th child
 * of a fork of branch B is `B/i` ('0/1', then '0/1/0' for a path of a block nested in it). Path
 * indices follow the fork's outline order, which is also the merge order. Pure and browser-safe.
 */

export const ROOT_BRANCH = '0';

/** The `index`-th path of a fork of `parent`. */
export function childBranch(parent: string, index: number): string {
  return `${parent}/${index}`;
}

/** The branch that forked `branch`; undefined for a top-level branch such as the root. */
export function parentBranch(branch: string): string | undefined {
  const cut = branch.lastIndexOf('/');
  return cut < 0 ? undefined : branch.slice(0, cut);
}

/** The position of `branch` among its fork's paths (0 for the root). */
export function pathIndex(branch: string): number {
  return Number(branch.slice(branch.lastIndexOf('/') + 1));
}

/** Forks between `branch` and the root: 0 for the root, 1 for its paths. */
export function branchDepth(branch: string): number {
  let depth = 0;
  for (const c of branch) if (c === '/') depth++;
  return depth;
}

/** `branch` is `ancestor` or nested in it. */
export function isWithin(branch: string, ancestor: string): boolean {
  return branch === ancestor || branch.startsWith(`${ancestor}/`);
}

/** `branch` and every branch above it, root first: '0/1/2' → ['0', '0/1', '0/1/2']. */
export function ancestorsOf(branch: string): string[] {
  const parts = branch.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Orders branches as the transcript does: by path index at each level, a parent before its paths. */
export function compareBranches(a: string, b: string): number {
  const [x, y] = [a.split('/').map(Number), b.split('/').map(Number)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
