/**
 * Multiverse Attention (docs/multiverse.md): the attention mask and position ids that a Multiverse model
 * was trained with, computed from a flat token sequence. The semantics are the training collator's:
 *
 * Mask. Causal, except that tokens in two different `<Path>…</Path>` spans of the same `<Parallel>`
 * block never see each other. A span runs from `<Path>` to `</Path>` inclusive and holds any block
 * nested in it, so a token deep inside path A is hidden from path B of the same outer block and the
 * other way round. Everything else is causal: a path sees the prefix, the goal, the separators before
 * it (including those between earlier paths) and itself; the conclusion sees every path.
 *
 * Positions. Tokens count up one by one, except:
 * - `<Path>` takes pos(`</Goal>`) + 1, whatever separators stand between it and `</Goal>` (the
 *   first of those shares its position), so every path starts as if it were the only one;
 * - `<Conclusion>` takes the largest next position among the block's paths, i.e.
 *   pos(`</Goal>`) + L_max + 1, where a path's length is its position extent (last − first + 1).
 *   For a flat path that is its token count; for a path holding a nested block it is shorter than
 *   the token count, because the nested paths share positions. This is exactly what a fork/merge
 *   engine does: the merged continuation starts at the largest next position among the children.
 * - A separator (any token outside every span) after `</Path>` continues from that path's end; one
 *   after the last path may therefore share a position with `<Conclusion>`, as in the collator.
 *
 * Grammar (any non-tag token may appear anywhere; blocks nest in paths and conclusions):
 *   `<Parallel> <Goal> … </Goal> (<Path> … </Path>)+ <Conclusion> … </Conclusion> </Parallel>`
 * A prefix of a valid transcript (generation in progress, blocks or paths still open) is valid and
 * gets the same positions and mask as in any completion of it.
 */
import { MULTIVERSE_TAG_TEXT, tagRoles, type MultiverseTag, type MultiverseTagIds } from './tags.js';

/** A transcript that breaks the tag grammar; `tokenIndex` is the first offending token. */
export class MultiverseFormatError extends Error {
  override readonly name = 'MultiverseFormatError';
  constructor(
    readonly tokenIndex: number,
    message: string,
  ) {
    super(`token ${tokenIndex}: ${message}`);
  }
}

export interface MultiverseLayout {
  /** Position id of each token: what RoPE rotates by (not unique, unlike slot indices). */
  positions: number[];
  /** Id of the innermost path span holding each token (spans numbered by their `<Path>` in order), or -1. */
  pathSpan: number[];
  /** Whether key token k is visible to query token q (indices into the sequence). @throws RangeError out of range. */
  visible(q: number, k: number): boolean;
}

/** Where a block's reading stands: after `<Parallel>`, in the goal, among the paths, in the conclusion, after it. */
type Phase = 'head' | 'goal' | 'paths' | 'conclusion' | 'tail';

interface OpenBlock {
  kind: 'block';
  id: number;
  phase: Phase;
  goalClosePos: number;
  /** Largest next position among the block's closed paths; -1 before the first closes. */
  mergePos: number;
}

interface OpenPath {
  kind: 'path';
  span: number;
}

type Frame = OpenBlock | OpenPath;

/** For an error message: where the reader is and what it expects there, by innermost open frame. */
const CONTEXT: Record<Phase | 'path' | 'top', [where: string, expected: string]> = {
  top: ['outside any block', '<Parallel> or text'],
  head: ['after <Parallel>', '<Goal> or text'],
  goal: ['inside <Goal>', '</Goal> or text'],
  paths: ['after </Goal>', '<Path>, <Conclusion> (after at least one path) or text'],
  conclusion: ['inside <Conclusion>', '</Conclusion>, <Parallel> or text'],
  tail: ['after </Conclusion>', '</Parallel> or text'],
  path: ['inside <Path>', '</Path>, <Parallel> or text'],
};

/**
 * Computes positions, path spans and the visibility rule for `tokens` (a whole transcript or a
 * prefix of one), with the tags identified by `tagIds`.
 * @throws MultiverseFormatError when the tags are out of order or unbalanced.
 * @throws RangeError when two tags share an id.
 */
export function multiverseLayout(tokens: readonly number[], tagIds: MultiverseTagIds): MultiverseLayout {
  const roles = tagRoles(tagIds);
  const positions: number[] = [];
  const pathSpan: number[] = [];
  /** Per span: the enclosing spans, outermost first, ending with the span itself. */
  const spanChain: number[][] = [];
  /** Per span: the block it is a path of. */
  const spanBlock: number[] = [];
  const stack: Frame[] = [];
  const openSpans: number[] = [];
  let blocks = 0;
  let next = 0;

  tokens.forEach((token, t) => {
    const role = roles.get(token);
    const top = stack.at(-1);
    const block = top?.kind === 'block' ? top : undefined;
    const misplaced = () => {
      const [where, expected] = CONTEXT[top === undefined ? 'top' : top.kind === 'path' ? 'path' : top.phase];
      const tag = MULTIVERSE_TAG_TEXT[role as MultiverseTag];
      return new MultiverseFormatError(t, `unexpected ${tag} ${where} (expected ${expected})`);
    };
    let pos = next;
    let span = openSpans.at(-1) ?? -1;

    switch (role) {
      case undefined:
        break;
      case 'parallelOpen':
        if (block !== undefined && block.phase !== 'conclusion') throw misplaced();
        stack.push({ kind: 'block', id: blocks++, phase: 'head', goalClosePos: -1, mergePos: -1 });
        break;
      case 'goalOpen':
        if (block?.phase !== 'head') throw misplaced();
        block.phase = 'goal';
        break;
      case 'goalClose':
        if (block?.phase !== 'goal') throw misplaced();
        block.phase = 'paths';
        block.goalClosePos = pos;
        break;
      case 'pathOpen':
        if (block?.phase !== 'paths') throw misplaced();
        pos = block.goalClosePos + 1;
        span = spanChain.length;
        spanChain.push([...openSpans, span]);
        spanBlock.push(block.id);
        openSpans.push(span);
        stack.push({ kind: 'path', span });
        break;
      case 'pathClose': {
        if (top?.kind !== 'path') throw misplaced();
        stack.pop();
        openSpans.pop();
        const parent = stack.at(-1) as OpenBlock;
        parent.mergePos = Math.max(parent.mergePos, pos + 1);
        break;
      }
      case 'conclusionOpen':
        if (block?.phase !== 'paths' || block.mergePos < 0) throw misplaced();
        block.phase = 'conclusion';
        pos = block.mergePos;
        break;
      case 'conclusionClose':
        if (block?.phase !== 'conclusion') throw misplaced();
        block.phase = 'tail';
        break;
      case 'parallelClose':
        if (block?.phase !== 'tail') throw misplaced();
        stack.pop();
        break;
    }
    positions.push(pos);
    pathSpan.push(span);
    next = pos + 1;
  });

  const chainOf = (span: number): readonly number[] => (span < 0 ? [] : spanChain[span]);
  const checkIndex = (i: number) => {
    if (!(Number.isInteger(i) && i >= 0 && i < positions.length)) {
      throw new RangeError(`token index ${i} is outside the sequence (length ${positions.length})`);
    }
  };
  return {
    positions,
    pathSpan,
    visible(q: number, k: number): boolean {
      checkIndex(q);
      checkIndex(k);
      if (k > q) return false;
      // Where the two tokens' span chains first part, they sit in sibling paths of one block
      // (mutually hidden) or in paths of two blocks one after the other (plain causal).
      const a = chainOf(pathSpan[q]);
      const b = chainOf(pathSpan[k]);
      for (let d = 0; d < Math.min(a.length, b.length); d++) {
        if (a[d] !== b[d]) return spanBlock[a[d]] !== spanBlock[b[d]];
      }
      return true;
    },
  };
}
