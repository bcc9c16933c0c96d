/**
 * The branch tree of one generation, built from its events: each fork with its goal and paths
 * (label, outline, transcript), nested forks inside paths. What the OpenAI endpoints return as
 * their `multiverse.tree` extension. Fork events are optional: without them (branches of a
 * session surface tokens only) forks are inferred from token branch paths, without goal or labels.
 */
import { compareBranches, isWithin, parentBranch } from '../engine/branch-path.js';
import type { GenerationEvent } from './events.js';

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

interface Draft {
  node: Omit<BranchNode, 'text' | 'tokens' | 'forks'>;
  /** Text runs and forks in transcript order. */
  parts: (string | DraftFork)[];
  ownTokens: number;
}

interface DraftFork {
  goal?: string;
  dropped?: number;
  paths: Draft[];
}

export class BranchTreeBuilder {
  private readonly drafts = new Map<string, Draft>();
  private readonly root: Draft;

  constructor(root: string) {
    this.root = this.register({ branch: root });
  }

  /** Takes a token, fork or join event of this generation; others, and other branches', are ignored. */
  add(event: GenerationEvent): void {
    const root = this.root.node.branch;
    if (!isWithin(event.branch, root)) return;
    if (event.type === 'token') {
      const d = this.draftOf(event.branch);
      d.ownTokens++;
      const last = d.parts.at(-1);
      if (typeof last === 'string') d.parts[d.parts.length - 1] = last + event.text;
      else d.parts.push(event.text);
    } else if (event.type === 'fork') {
      const paths = event.paths.map((p) => this.register({ branch: p.branch, label: p.label, outline: p.outline }));
      this.draftOf(event.branch).parts.push({ goal: event.goal, dropped: event.dropped, paths });
    } else if (event.type === 'join') {
      for (const p of event.paths) if (p.truncated) this.draftOf(p.branch).node.truncated = true;
    }
  }

  /** The tree so far; `tail` is text the root released only at the end (DoneEvent.tail). */
  build(tail = ''): BranchNode {
    const tree = finish(this.root);
    return { ...tree, text: tree.text + tail };
  }

  private register(node: Draft['node']): Draft {
    const d: Draft = { node, parts: [], ownTokens: 0 };
    this.drafts.set(node.branch, d);
    return d;
  }

  /** The draft of `branch`; an unseen branch is a path of its parent's open fork, or of a new one. */
  private draftOf(branch: string): Draft {
    const known = this.drafts.get(branch);
    if (known) return known;
    const parent = this.draftOf(parentBranch(branch)!);
    let fork = parent.parts.at(-1);
    if (fork === undefined || typeof fork === 'string') parent.parts.push((fork = { paths: [] }));
    const d = this.register({ branch });
    fork.paths.push(d);
    fork.paths.sort((a, b) => compareBranches(a.node.branch, b.node.branch));
    return d;
  }
}

function finish(d: Draft): BranchNode {
  let text = '';
  let tokens = d.ownTokens;
  const forks: ForkNode[] = [];
  for (const part of d.parts) {
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
  return { ...d.node, text, tokens, forks };
}
