/**
 * The forcing hook for scheduler tests: each branch path gets a script of text, tokenized once,
 * that `pickToken` plays back instead of sampling. Also rebuilds the flat (merge-order) transcript
 * from the event stream, to compare with the dense Multiverse pass.
 */
import type { GenerateOptions } from '../../src/engine/generate-options.js';
import type { Model } from '../../src/facade/model.js';
import type { GenerationEvent, TokenEvent } from '../../src/rx/events.js';

export interface Forcing {
  pickToken: NonNullable<GenerateOptions['pickToken']>;
  /** Logits handed to pickToken for each sampled token, by branch, in order. */
  seen: Map<string, Float32Array[]>;
}

/**
 * Scripts by branch path; a script may be a function of the branch (for deep or wide trees).
 * After its script, a branch emits `fallback` (e.g. the end-of-sequence id).
 */
export function forceScripts(model: Model, scripts: Record<string, string> | ((branch: string) => string), fallback: number): Forcing {
  const cache = new Map<string, number[]>();
  const seen = new Map<string, Float32Array[]>();
  const tokensOf = (branch: string) => {
    let t = cache.get(branch);
    if (!t) {
      const text = typeof scripts === 'function' ? scripts(branch) : scripts[branch];
      t = text === undefined ? [] : model.tokenizer.encode(text, { addSpecialTokens: false });
      cache.set(branch, t);
    }
    return t;
  };
  return {
    seen,
    pickToken: ({ branch, logits, generated }) => {
      if (!seen.has(branch)) seen.set(branch, []);
      seen.get(branch)!.push(logits.slice());
      return tokensOf(branch)[generated] ?? fallback;
    },
  };
}

/** Token events in merge order: a fork's paths are spliced into the parent at the join, in label order. */
export function flatTokens(events: GenerationEvent[]): TokenEvent[] {
  const byBranch = new Map<string, TokenEvent[]>([['0', []]]);
  for (const e of events) {
    if (e.type === 'token') byBranch.get(e.branch)!.push(e);
    else if (e.type === 'fork') for (const p of e.paths) byBranch.set(p.branch, []);
    else if (e.type === 'join') {
      for (const p of e.paths) {
        byBranch.get(e.branch)!.push(...byBranch.get(p.branch)!);
        byBranch.delete(p.branch);
      }
    }
  }
  return byBranch.get('0')!;
}
