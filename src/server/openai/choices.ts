/**
 * The choices of one OpenAI request as one stream. n = 1 runs `model.events` (the Multiverse
 * scheduler may fork inside it); n > 1 prefills the prompt once and forks n branches from it with
 * `model.session`, so the shared prefix is computed once, not n times; the session plans the n
 * branches, so their KV is reserved (or waited for) before anything runs. Each choice's tokens come
 * out in merge order (the order of its final text), then its end with the branch tree.
 */
import { concat, defer, mergeMap, type Observable } from 'rxjs';
import type { GenerateOptions } from '../../engine/generate-options.js';
import type { GenerationBackend } from '../../rx/backend.js';
import type { FinishReason, GenerationEvent, TokenEvent } from '../../rx/events.js';
import { ROOT_BRANCH } from '../../engine/branch-path.js';
import { BranchTree, type BranchNode } from '../../rx/branch-tree.js';
import { MergeOrder } from '../../rx/merge-order.js';
import type { ServerMetrics } from '../metrics.js';

export type ChoiceEvent =
  | { kind: 'token'; choice: number; token: TokenEvent }
  | {
      kind: 'end';
      choice: number;
      /** The choice's whole text: its tokens' texts in merge order, then `tail`. */
      text: string;
      /** Text released only at the end (held back for a possible stop string or UTF-8 character). */
      tail: string;
      finishReason: FinishReason;
      /** Tokens generated for this choice, over all of its branches. */
      completionTokens: number;
      tree: BranchNode;
    };

/** Cold: each subscription runs the request; unsubscribing cancels it and frees its KV. */
export function runChoices(model: GenerationBackend, prompt: number[], options: GenerateOptions, n: number, metrics: ServerMetrics): Observable<ChoiceEvent> {
  if (n === 1) {
    return defer(() => {
      const choice = new ChoiceStream(0, ROOT_BRANCH, metrics);
      return model.events(prompt, options).pipe(mergeMap((e) => (e.type === 'done' ? choice.end(e.text, e.finishReason) : choice.add(e))));
    });
  }
  return model.session(prompt, options, (root) => {
    metrics.forked();
    return root.fork(n, options).pipe(
      mergeMap((branch) => {
        const choice = new ChoiceStream(branch.index, branch.branch, metrics);
        return concat(
          branch.tokens$.pipe(mergeMap((t) => choice.add(t))),
          branch.result$.pipe(mergeMap((r) => choice.end(r.text, r.finishReason))),
        );
      }),
    );
  }, { branches: n });
}

/** One choice's events: counted, added to its tree, tokens reordered into merge order. */
class ChoiceStream {
  private readonly tree: BranchTree;
  private readonly order: MergeOrder<TokenEvent>;
  private ready: ChoiceEvent[] = [];
  private streamedChars = 0;
  private tokens = 0;

  constructor(
    private readonly index: number,
    branch: string,
    private readonly metrics: ServerMetrics,
  ) {
    this.tree = new BranchTree(branch);
    this.order = new MergeOrder(branch, (token) => {
      this.streamedChars += token.text.length;
      this.ready.push({ kind: 'token', choice: index, token });
    });
  }

  /** Takes a token, fork or join event; returns the tokens now placed in merge order. */
  add(event: GenerationEvent): ChoiceEvent[] {
    this.metrics.record(event);
    this.tree.apply(event);
    if (event.type === 'token') {
      this.tokens++;
      this.order.push(event.branch, event);
    }
    return this.take();
  }

  /** The choice ended with `text`: the tokens still held, then the end event. */
  end(text: string, finishReason: FinishReason): ChoiceEvent[] {
    this.order.end();
    const tail = text.slice(this.streamedChars);
    return [
      ...this.take(),
      { kind: 'end', choice: this.index, text, tail, finishReason, completionTokens: this.tokens, tree: this.tree.build(tail) },
    ];
  }

  private take(): ChoiceEvent[] {
    const out = this.ready;
    this.ready = [];
    return out;
  }
}
