/**
 * The branch tree of one generation, grown event by event: each fork with its goal and paths
 * (label, outline, transcript), nested forks inside paths, and which branches still decode. The
 * one bookkeeping of branches that every view reads: the stage view (`stagesOf`), the terminal
 * renderer, the browser viewer, and `build()`, the `multiverse.tree` of the OpenAI endpoints, the
 * AI SDK and `complete()`. Fork events are optional: without them (branches of a session surface
 * tokens only) forks are inferred from token branch paths, without goal or labels.
 *
 * Pure and browser-safe: the viewer's build compiles this file and branch-path.ts into the page
 * (viewer/tsconfig.json), so it imports nothing else, not even types.
 */
import { compareBranches, isWithin, parentBranch } from '../engine/branch-path.js';

/** A path's names, as fork and join events give them. */
interface PathNames {
  branch: string;
  label: string;
  outline: string;
}

/** What the tree reads of a flat event: a GenerationEvent, or its wire form, whose token event may carry several tokens. */
export type TreeEvent =
  | { type: 'token'; branch: string; text: string; tokenIds?: number[] }
  | { type: 'fork'; branch: string; goal: string; paths: PathNames[]; dropped: number }
  | { type: 'join'; branch: string; paths: (PathNames & { truncated: boolean })[] };

/** One branch as it grows. Views read it and may keep their own state in `view`; only the tree changes the rest. */
export interface TreeBranch<V> {
  branch: string;
  /** The outline label ('1', '1.2') and text, for a path of a Multiverse fork. */
  label?: string;
  outline?: string;
  /** Text runs and nested forks, in transcript order. */
  parts: (string | TreeFork<V>)[];
  /** Tokens of this branch itself, nested paths not counted. */
  ownTokens: number;
  /** The path ended early (cancelled, or an end-of-sequence inside it), as its join said. */
  truncated: boolean;
  /** Tokens may still come: the root until the end, a path until its fork joins. */
  live: boolean;
  /** What a view keeps for this branch (its element, its subjects). */
  view?: V;
}

export interface TreeFork<V> {
  /** The goal block's text, tags included (absent when inferred from token branches). */
  goal?: string;
  /** Outlines that got no path (beyond maxPathsPerFork). */
  dropped?: number;
  paths: TreeBranch<V>[];
  joined: boolean;
}

/** A finished branch: what `build()` returns and the endpoints serialize. */
export interface BranchNode {
  branch: string;
  /** The outline label ('1', '1.2'), for a path of a Multiverse fork. */
  label?: string;
  outline?: string;
  /** This branch's transcript in merge order, its nested blocks included. */
  text: string;
  /** Tokens in `text` (nested paths included). */
  tokens: number;
  /** The path ended early (cancelled, or an end-of-sequence inside it). */
  truncated?: boolean;
  forks: ForkNode[];
}

export interface ForkNode {
  /** The goal block's text, tags included (absent when inferred from token branches). */
  goal?: string;
  /** Where the fork sits: characters of the parent's `text` before its paths. */
  at: number;
  paths: BranchNode[];
  /** Outlines that got no path (beyond maxPathsPerFork). */
  dropped?: number;
}

export class BranchTree<V = never> {
  private readonly branches = new Map<string, TreeBranch<V>>();
  /** The branch at the top ('0', or a choice's branch such as '0/2'); events outside it are ignored. */
  readonly root: TreeBranch<V>;

  constructor(root: string) {
    this.root = this.register(root);
  }

  /** The branch an event named, or undefined. */
  get(branch: string): TreeBranch<V> | undefined {
    return this.branches.get(branch);
  }

  /** Branches that may still get tokens, the root included. */
  live(): TreeBranch<V>[] {
    return [...this.branches.values()].filter((b) => b.live);
  }

  /** Takes any event of the stream: tokens, forks and joins grow the tree; done and error are ignored. */
  apply(e: TreeEvent | { type: 'done' | 'error' }): void {
    if (e.type === 'token') this.token(e);
    else if (e.type === 'fork') this.fork(e);
    else if (e.type === 'join') this.join(e);
  }

  /** Appends a token event's text to its branch; returns that branch (undefined outside the root). */
  token(e: Extract<TreeEvent, { type: 'token' }>): TreeBranch<V> | undefined {
    if (!isWithin(e.branch, this.root.branch)) return undefined;
    const b = this.branchOf(e.branch);
    b.ownTokens += e.tokenIds?.length ?? 1;
    const last = b.parts.at(-1);
    if (typeof last === 'string') b.parts[b.parts.length - 1] = last + e.text;
    else b.parts.push(e.text);
    return b;
  }

  /** Opens a fork of live paths in the forking branch; returns it. */
  fork(e: Extract<TreeEvent, { type: 'fork' }>): TreeFork<V> | undefined {
    if (!isWithin(e.branch, this.root.branch)) return undefined;
    const paths = e.paths.map((p) => this.register(p.branch, p.label, p.outline));
    const fork: TreeFork<V> = { goal: e.goal, dropped: e.dropped, paths, joined: false };
    this.branchOf(e.branch).parts.push(fork);
    return fork;
  }

  /** Closes the forking branch's last fork: its paths end, the truncated ones marked; returns it. */
  join(e: Extract<TreeEvent, { type: 'join' }>): TreeFork<V> | undefined {
    if (!isWithin(e.branch, this.root.branch)) return undefined;
    for (const p of e.paths) if (p.truncated) this.branchOf(p.branch).truncated = true;
    const fork = this.branchOf(e.branch).parts.filter((part) => typeof part !== 'string').at(-1);
    if (!fork) return undefined;
    fork.joined = true;
    for (const p of fork.paths) p.live = false;
    return fork;
  }

  /** The finished tree so far; `tail` is text the root released only at the end (DoneEvent.tail). */
  build(tail = ''): BranchNode {
    const tree = finish(this.root);
    return { ...tree, text: tree.text + tail };
  }

  private register(branch: string, label?: string, outline?: string): TreeBranch<V> {
    const b: TreeBranch<V> = { branch, ...(label !== undefined ? { label, outline } : {}), parts: [], ownTokens: 0, truncated: false, live: true };
    this.branches.set(branch, b);
    return b;
  }

  /** The branch named `branch`; an unseen one is a path of its parent's open fork, or of a new one. */
  private branchOf(branch: string): TreeBranch<V> {
    const known = this.branches.get(branch);
    if (known) return known;
    const parent = this.branchOf(parentBranch(branch)!);
    let fork = parent.parts.at(-1);
    if (fork === undefined || typeof fork === 'string') parent.parts.push((fork = { paths: [], joined: false }));
    const b = this.register(branch);
    fork.paths.push(b);
    fork.paths.sort((x, y) => compareBranches(x.branch, y.branch));
    return b;
  }
}

function finish(b: TreeBranch<unknown>): BranchNode {
  let text = '';
  let tokens = b.ownTokens;
  const forks: ForkNode[] = [];
  for (const part of b.parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    const paths = part.paths.map(finish);
    forks.push({
      ...(part.goal !== undefined ? { goal: part.goal } : {}),
      at: text.length,
      paths,
      ...(part.dropped ? { dropped: part.dropped } : {}),
    });
    for (const p of paths) {
      text += p.text;
      tokens += p.tokens;
    }
  }
  return {
    branch: b.branch,
    ...(b.label !== undefined ? { label: b.label, outline: b.outline } : {}),
    ...(b.truncated ? { truncated: true } : {}),
    text,
    tokens,
    forks,
  };
}
