/**
 * Structured prefill: loads a transcript that already contains Parallel blocks (a multi-turn chat,
 * a resumed run) into the KV exactly as if the scheduler had generated it by fork and merge. The
 * prefix through `</Goal>` is stepped on the current sequence; one child is forked per
 * `<Path>…</Path>` span (found by reading ahead); the children step their spans together, in one
 * batch per step, handling blocks nested in them the same way; they merge in order, and the merged
 * sequence steps the conclusion and what follows.
 *
 * Positions and visibility equal the training collator's (multiverseLayout) for transcripts with
 * no separators between `</Goal>`, `<Path>`, `</Path>` and `<Conclusion>`: our format.
 *
 * Separators (newlines between tags, as Multiverse-32B writes them) go where the scheduler's forced
 * openers put them: one before a `<Path>` joins that path's child and shares the `<Path>` position
 * (pos(`</Goal>`) + 1); one before `<Conclusion>` joins the merged continuation and shares the
 * `<Conclusion>` position. The collator differs here, and fork/merge cannot follow it: it keeps
 * separators outside the spans, visible to every later path, and lets a separator after `</Path>`
 * count on from that path's end.
 *
 * A transcript may end anywhere (a block or path still open): the result then says where
 * generation would continue. For a model whose tags are text, not added tokens, there is no
 * structure to read and the transcript is prefilled sequentially.
 */
import { GenerationError } from '../engine/errors.js';
import type { RequestContext } from '../engine/request-context.js';
import type { Rng } from '../engine/rng.js';
import type { Sequence } from '../engine/sequence.js';
import { MultiverseFormatError } from './attention.js';
import { planPrefill, type PrefillPlan, type Strand } from './prefill-plan.js';
import type { MultiverseTagIds } from './tags.js';
import { ROOT_BRANCH } from '../engine/branch-path.js';

/** A block the transcript ends inside of: its paths were stepped but not merged. */
export interface OpenBlock {
  /** The sequence that wrote the goal: paths fork from it, and merge into it. */
  parent: Sequence;
  /** The block's paths so far, in order (the last one may still be open). */
  paths: Sequence[];
}

export interface StructuredPrefill {
  /**
   * Where the next token goes: after a complete transcript, the root's final sequence; inside an
   * open path, that path's sequence; between the paths of an open block, the block's parent (fork
   * another path from it, or merge `open.at(-1).paths` for the conclusion; right after a
   * `</Goal>` nothing is forked yet and `open` does not list that block). Its `lastLogits` is the
   * row the next token is drawn from.
   */
  seq: Sequence;
  /** Open blocks, outermost first; empty when the transcript closes every block it opens. */
  open: OpenBlock[];
  /**
   * Per token i, the logits (vocab long) after it, computed in its own context (the sequence that
   * stepped it): row i of the dense Multiverse pass (exactly, without separators; see above),
   * which predicts token i + 1 of the transcript as the training loss does. Token i + 1 may sit in another sequence: the first token of a later
   * path follows the previous path's `</Path>`, the conclusion's the last path's.
   */
  logits: Float32Array[];
  /** Position id of each token. */
  positions: number[];
  /** Index of the token each token follows in its own sequence (-1 for the first): for the first token of a later path, the goal's `</Goal>`. */
  predecessors: number[];
}

/**
 * Prefills `tokens` into a new sequence of `request` (branch '0', random stream `rng`), with the
 * structure tags `tags` (undefined: sequential). Holds one row of logits per token.
 *
 * Mutates the request: on success it holds the sequences of the result (release them with
 * `request.releaseAll()`); on rejection it may hold partial work, to be released the same way.
 * @throws GenerationError INVALID_REQUEST (the MultiverseFormatError's message) for tags out of
 *   order, before any KV is used; CONTEXT_OVERFLOW when a position reaches `contextLength`;
 *   KV_EXHAUSTED, ENGINE_ERROR or MODEL_DISPOSED from the step loop.
 */
export async function prefillStructured(
  request: RequestContext,
  tokens: readonly number[],
  tags: MultiverseTagIds | undefined,
  rng: Rng,
  contextLength = Infinity,
): Promise<StructuredPrefill> {
  const plan = planOrReject(tokens, tags);
  const top = plan.positions.reduce((a, b) => Math.max(a, b), -1);
  if (top >= contextLength) {
    throw new GenerationError('CONTEXT_OVERFLOW', `the transcript reaches position ${top}, beyond a context of ${contextLength} positions`);
  }
  /** Row i: the logits after token i, in its own sequence. */
  const logits: Float32Array[] = [];

  /** Steps a strand on `seq`. Resolves with its last sequence, the open blocks it ends in, and where the next token goes. */
  const run = async (seq: Sequence, strand: Strand): Promise<Ended> => {
    for (const step of strand.steps) {
      if (step.kind === 'run') {
        const { from, to } = step;
        const out = await seq.feed(tokens.slice(from, to), 'all', plan.positions.slice(from, to));
        const width = out.length / (to - from);
        for (let k = from; k < to; k++) logits[k] = out.subarray((k - from) * width, (k - from + 1) * width);
        continue;
      }
      const children = seq.fork(step.paths.length);
      // Started together, the children's feeds land in the same steps. Every child settles before
      // an error goes on, so the caller never releases a sequence a sibling is still using.
      const settled = await Promise.allSettled(children.map((child, j) => run(child, step.paths[j])));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      const ended = settled.map((s) => (s as PromiseFulfilledResult<Ended>).value);
      if (!step.merged) {
        const last = ended[ended.length - 1];
        const next = step.paths[step.paths.length - 1].closed ? seq : last.next;
        return { seq, open: [{ parent: seq, paths: ended.map((e) => e.seq) }, ...last.open], next };
      }
      const merged = seq.merge(ended.map((e) => e.seq));
      // The merged sequence holds the KV by reference; the parts are no longer needed.
      for (const s of new Set([seq, ...children, ...ended.map((e) => e.seq)])) s.release();
      seq = merged;
    }
    return { seq, open: [], next: seq };
  };

  const { open, next } = await run(request.createSequence(ROOT_BRANCH, rng), plan.root);
  return {
    seq: next,
    open,
    logits,
    positions: plan.positions,
    predecessors: plan.predecessors,
  };
}

interface Ended {
  seq: Sequence;
  open: OpenBlock[];
  next: Sequence;
}

function planOrReject(tokens: readonly number[], tags: MultiverseTagIds | undefined): PrefillPlan {
  try {
    return planPrefill(tokens, tags);
  } catch (e) {
    if (e instanceof MultiverseFormatError) throw new GenerationError('INVALID_REQUEST', e.message);
    throw e;
  }
}
