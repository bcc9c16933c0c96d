/**
 * The whole result of one generation, for callers who want a value rather than a stream: what
 * `await model.complete(…)` resolves with, gathered from the request's flat events.
 */
import { lastValueFrom, type Observable, reduce } from 'rxjs';
import { ROOT_BRANCH } from '../engine/branch-path.js';
import type { RequestStats } from '../engine/request-context.js';
import { BranchTree, type BranchNode } from './branch-tree.js';
import type { DoneEvent, FinishLimit, FinishReason, GenerationEvent, Usage } from './events.js';

export interface Completion {
  /** The generated transcript, paths in label order as merged. */
  text: string;
  /** Its token ids. */
  tokens: number[];
  /** The branch tree: each fork with its goal and paths (label, outline, text), nested forks inside paths. */
  tree: BranchNode;
  finishReason: FinishReason;
  /** With finishReason 'length': which limit. */
  limit?: FinishLimit;
  usage: Usage;
  /** Forks, # parallel, critical path. */
  stats: RequestStats;
  /** The seed used, to reproduce the run. */
  seed: number;
}

/** Resolves with the completion when `events` ends with its done event; rejects with the stream's error. */
export async function completionOf(events: Observable<GenerationEvent>): Promise<Completion> {
  const { tree, done } = await lastValueFrom(
    events.pipe(
      reduce(
        (acc, event) => {
          if (event.type === 'done') acc.done = event;
          else acc.tree.apply(event);
          return acc;
        },
        { tree: new BranchTree(ROOT_BRANCH), done: undefined as DoneEvent | undefined },
      ),
    ),
  );
  if (!done) throw new Error('the generation ended without a done event');
  return {
    text: done.text,
    tokens: done.tokenIds,
    tree: tree.build(done.tail),
    finishReason: done.finishReason,
    ...(done.limit ? { limit: done.limit } : {}),
    usage: done.usage,
    stats: done.stats,
    seed: done.seed,
  };
}
