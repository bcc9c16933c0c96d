/**
 * Decodes one sequence to its end: prefill, then sample → step → sample until a stop token, a stop
 * string, maxTokens or the context's end. Positions are sequential here; the Multiverse scheduler
 * (a later issue) drives forks and merges around the same loop.
 */
import type { DoneEvent, TokenEvent } from '../rx/events.js';
import { StreamingDetokenizer } from '../model/detokenizer.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { ResolvedOptions } from './generate-options.js';
import { Rng } from './rng.js';
import { sampleToken } from './sampler.js';
import type { StepLoop } from './step-loop.js';
import { StopMatcher } from './stop.js';

export interface DecodeContext {
  loop: StepLoop;
  tokenizer: Tokenizer;
  /** Positions available to one sequence (model context, capped by the KV pool). */
  contextLength: number;
}

export interface DecodeJob {
  seq: number;
  branch: string;
  prompt: number[];
  options: ResolvedOptions;
  emit(event: TokenEvent): void;
  /** Checked after every step: true stops decoding without a done event. */
  cancelled(): boolean;
}

/** Resolves with the done event, or undefined when cancelled. Rejects with GenerationError. */
export async function decodeSequence(ctx: DecodeContext, job: DecodeJob): Promise<DoneEvent | undefined> {
  const { options } = job;
  const rng = Rng.fromSeed(options.seed);
  const detok = new StreamingDetokenizer(ctx.tokenizer);
  const stops = new StopMatcher(options.stop);
  const history = [...job.prompt];
  const generated: number[] = [];
  let text = '';
  let position = job.prompt.length;
  const limit = Math.min(options.maxTokens, ctx.contextLength - job.prompt.length);

  let logits = await ctx.loop.run(job.seq, job.prompt, range(0, job.prompt.length), 'last');
  for (;;) {
    if (job.cancelled()) return undefined;
    const pick = sampleToken(logits, options.sampling, rng, history);
    if (options.stopTokenIds.has(pick.token)) return done('stop', true);
    generated.push(pick.token);
    history.push(pick.token);
    const { emit, stopped } = stops.push(detok.push(pick.token));
    text += emit;
    job.emit({ type: 'token', branch: job.branch, tokenId: pick.token, text: emit, logprob: pick.logprob, ...(pick.topLogprobs ? { topLogprobs: pick.topLogprobs } : {}) });
    if (stopped) return done('stop', false);
    if (generated.length >= limit) return done('length', true);
    logits = await ctx.loop.run(job.seq, [pick.token], [position++], 'last');
  }

  // Text held back (an incomplete character, a possible stop string's start) is released at the end,
  // unless a stop string matched: then everything from it on is dropped.
  function done(finishReason: DoneEvent['finishReason'], flush: boolean): DoneEvent {
    const tail = flush ? stops.push(detok.flush()).emit + stops.flush() : '';
    text += tail;
    return {
      type: 'done',
      branch: job.branch,
      tokenIds: generated,
      text,
      tail,
      finishReason,
      usage: { promptTokens: job.prompt.length, completionTokens: generated.length, totalTokens: job.prompt.length + generated.length },
      seed: options.seed,
    };
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
