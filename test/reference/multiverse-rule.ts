/**
 * Multiverse Attention as the paper states it (DESIGN.md §1), for the dense reference pass: written
 * from the rule, apart from src/multiverse/attention.ts, so that scoring and the engine are checked
 * against something that does not share their code.
 *
 * - A token sees every earlier token, except one in a different `<Path>…</Path>` of the same
 *   `<Parallel>` block (a span holds the blocks nested in it).
 * - Positions count up one per token, except that each `<Path>` restarts at pos(`</Goal>`) + 1 and
 *   `<Conclusion>` takes pos(`</Goal>`) + 1 + the longest path's position extent.
 *
 * Only our format: nothing between `</Goal>`, `<Path>`, `</Path>` and `<Conclusion>`, where the
 * collator and a fork/merge engine agree with no special cases.
 */

/** The tag texts this rule reads (a tokenizer maps them to ids). */
const TAGS = ['<Parallel>', '</Parallel>', '<Goal>', '</Goal>', '<Path>', '</Path>', '<Conclusion>', '</Conclusion>'] as const;

export interface DenseLayout {
  positions: number[];
  /** Whether token k is visible to token q. */
  mask: (q: number, k: number) => boolean;
}

interface Block {
  id: number;
  goalEndPos: number;
  /** Largest next position after any of its paths. */
  pathsEnd: number;
  paths: number;
}

/**
 * Positions and mask of a flattened transcript; `tagId(text)` gives each tag's token id.
 * @throws Error for a tag out of place or a token between the tags named above.
 */
export function multiverseRule(tokens: readonly number[], tagId: (text: string) => number): DenseLayout {
  const tagOf = new Map(TAGS.map((t) => [tagId(t), t]));
  const blocks: Block[] = [];
  /** The paths holding the current token, as (block id, path index within the block). */
  let inside: [block: number, path: number][] = [];
  const membership: Map<number, number>[] = [];
  const positions: number[] = [];
  let blockCount = 0;

  tokens.forEach((token, i) => {
    const tag = tagOf.get(token);
    const before = tagOf.get(tokens[i - 1]);
    const block = blocks.at(-1);
    const fail = (why: string) => new Error(`token ${i} (${tag ?? token}): ${why}`);
    let pos = i === 0 ? 0 : positions[i - 1] + 1;
    if (tag === '<Parallel>') blocks.push({ id: blockCount++, goalEndPos: -1, pathsEnd: -1, paths: 0 });
    if (tag === '</Goal>') block!.goalEndPos = pos;
    if (tag === '<Path>') {
      if (before !== '</Goal>' && before !== '</Path>') throw fail('a path opens right after </Goal> or </Path>');
      pos = block!.goalEndPos + 1;
      inside = [...inside, [block!.id, block!.paths++]];
    }
    if (tag === '<Conclusion>') {
      if (before !== '</Path>') throw fail('the conclusion opens right after the last </Path>');
      pos = block!.pathsEnd;
    }
    if ((tag === '</Goal>' || tag === '</Path>') && tokens[i + 1] !== undefined && !['<Path>', '<Conclusion>'].includes(tagOf.get(tokens[i + 1]) ?? '')) {
      throw fail('only <Path> or <Conclusion> follows');
    }
    positions.push(pos);
    membership.push(new Map(inside));
    if (tag === '</Path>') {
      inside = inside.slice(0, -1);
      block!.pathsEnd = Math.max(block!.pathsEnd, pos + 1);
    }
    if (tag === '</Parallel>') blocks.pop();
  });

  return {
    positions,
    mask: (q, k) => {
      if (k > q) return false;
      for (const [b, path] of membership[k]) {
        const other = membership[q].get(b);
        if (other !== undefined && other !== path) return false;
      }
      return true;
    },
  };
}
