/**
 * The plan of a structured prefill (see structured-prefill.ts): which tokens of a transcript each
 * sequence steps, where the forks and merges fall, and every token's position id and predecessor.
 * Pure: reads the tokens, touches no KV.
 *
 * Positions follow the fork/merge engine, which agrees with the training collator
 * (multiverseLayout) wherever no separators stand between `</Goal>`, `<Path>`, `</Path>` and
 * `<Conclusion>`:
 * - a path's separators and its `<Path>` all take pos(`</Goal>`) + 1, and the path counts up from
 *   there (the scheduler's forced opener does the same);
 * - after the merge, the conclusion's separators and `<Conclusion>` all take the largest next
 *   position among the paths, and the continuation counts up from there.
 */
import { multiverseLayout } from './attention.js';
import { tagRoles, type MultiverseTag, type MultiverseTagIds } from './tags.js';

/** Tokens [from, to) of the transcript, stepped on one sequence in one feed. */
export interface Run {
  kind: 'run';
  from: number;
  to: number;
}

/**
 * A parallel block's paths, one child each, forked from the sequence that wrote the goal.
 * `merged`: the transcript goes on to the conclusion, so the children merge back; otherwise it
 * ends inside the block and the children stay apart.
 */
export interface Fork {
  kind: 'fork';
  paths: Strand[];
  merged: boolean;
}

/** What one sequence steps, in order. */
export interface Strand {
  steps: (Run | Fork)[];
  /** For a path: whether its `</Path>` is in the transcript (false: the transcript ends inside it). */
  closed: boolean;
}

export interface PrefillPlan {
  root: Strand;
  /** Position id of each token. */
  positions: number[];
  /** Index of the token each token follows in its own sequence (-1 for the first). */
  predecessors: number[];
}

/**
 * Plans `tokens` (a whole transcript or a prefix of one). With `tags` undefined (a model that
 * writes the tags as text) the plan is one sequential run.
 * @throws MultiverseFormatError when the tags break the grammar of attention.ts.
 */
export function planPrefill(tokens: readonly number[], tags: MultiverseTagIds | undefined): PrefillPlan {
  // Validates the grammar first, so the reader below may trust it.
  if (tags) multiverseLayout(tokens, tags);
  const roles = tags ? tagRoles(tags) : new Map<number, MultiverseTag>();
  const role = (i: number) => roles.get(tokens[i]);
  const positions: number[] = [];
  const predecessors: number[] = [];
  let i = 0;

  /** Places tokens [i, to) at one shared position, each following the one before; returns the last index. */
  const placeShared = (to: number, pos: number, pred: number): number => {
    for (; i < to; i++) {
      positions[i] = pos;
      predecessors[i] = pred;
      pred = i;
    }
    return pred;
  };

  /**
   * Reads one sequence's tokens from `i` to the end of the transcript or, for a path, to its
   * `</Path>`. Tokens [from, i) are already placed (an opener); `next` and `last` are the next
   * position and the index of the last token placed.
   */
  const readStrand = (from: number, next: number, last: number): { strand: Strand; next: number; last: number } => {
    const steps: Strand['steps'] = [];
    while (i < tokens.length) {
      const r = role(i);
      positions[i] = next++;
      predecessors[i] = last;
      last = i++;
      // Nested paths are read by readBlock, so a `</Path>` seen here closes this strand.
      if (r === 'pathClose') {
        steps.push({ kind: 'run', from, to: i });
        return { strand: { steps, closed: true }, next, last };
      }
      if (r === 'goalClose') {
        steps.push({ kind: 'run', from, to: i });
        const block = readBlock(positions[last], last);
        if (block.fork.paths.length > 0) steps.push(block.fork);
        if (!block.rest) return { strand: { steps, closed: false }, next, last };
        ({ from, next, last } = block.rest);
      }
    }
    if (i > from) steps.push({ kind: 'run', from, to: i });
    return { strand: { steps, closed: false }, next, last };
  };

  /**
   * Reads a block's paths after its `</Goal>` (at position `goalPos`, index `goalIndex`), and the
   * conclusion opener if the transcript has one; `rest` then says where the merged sequence goes on
   * (tokens [from, i) placed). Separators at the very end of the transcript are
   * taken as the start of another path (a forked path's opener begins with them).
   */
  const readBlock = (goalPos: number, goalIndex: number): { fork: Fork; rest?: { from: number; next: number; last: number } } => {
    const paths: Strand[] = [];
    let mergePos = 0;
    let lastOfPaths = goalIndex;
    for (;;) {
      const from = i;
      while (i < tokens.length && role(i) === undefined) i++;
      const tag = role(i);
      const openerEnd = tag === undefined ? i : i + 1;
      i = from;
      if (tag === 'conclusionOpen') {
        const last = placeShared(openerEnd, mergePos, lastOfPaths);
        return { fork: { kind: 'fork', paths, merged: true }, rest: { from, next: mergePos + 1, last } };
      }
      if (openerEnd === from) return { fork: { kind: 'fork', paths, merged: false } };
      const path = readStrand(from, goalPos + 2, placeShared(openerEnd, goalPos + 1, goalIndex));
      paths.push(path.strand);
      mergePos = Math.max(mergePos, path.next);
      lastOfPaths = path.last;
    }
  };

  const { strand } = readStrand(0, 0, -1);
  return { root: strand, positions, predecessors };
}
