/**
 * Scoring: the log-probability of every token of a given transcript under Multiverse semantics
 * (or plain causal ones, when asked), what OpenAI's `echo` + `logprobs` gives for plain text. The
 * transcript is loaded by structured prefill, so every token's logits are computed in its own
 * context (inside a path: the prefix, the goal and the path so far), and token i is scored by the
 * logits after token i − 1 of the flattened transcript: the dense Multiverse pass, the training
 * loss. So the first token of a later path is scored after the previous path's `</Path>`, and the
 * conclusion's after the last path's (docs/multiverse.md, "Structured prefill and scoring").
 */
import { GenerationError } from '../engine/errors.js';
import { RequestContext } from '../engine/request-context.js';
import { Rng } from '../engine/rng.js';
import { scoreToken } from '../engine/sampler.js';
import { promptTokens, type GenerateInput } from '../engine/prompt-tokens.js';
import type { LoadedModel } from './loaded-model.js';
import { prefillStructured } from './structured-prefill.js';
import { resolveTagIds, type MultiverseTagIds, type MultiverseTagText } from './tags.js';
import type { TagMode } from './tag-scanner.js';

export interface ScoreOptions {
  /** Also report this many most likely tokens at each position. Default 0. */
  topLogprobs?: number;
  /** A string input is scored as is, not through the chat template. Default false. */
  raw?: boolean;
  /**
   * `{ enabled: false }` scores the transcript as plain causal text: the tags are ordinary tokens,
   * every token sees all before it, positions count up. Default: Multiverse semantics.
   */
  multiverse?: { enabled?: boolean };
}

export interface ScoredToken {
  tokenId: number;
  /** The token's own text (may be part of a UTF-8 character, shown as U+FFFD). */
  text: string;
  /** Its position id (paths of one block share positions). */
  position: number;
  /** log-softmax of the logits it follows, at this token; undefined for the first token. */
  logprob: number | undefined;
  /** With `topLogprobs`: the most likely tokens at this position, `{tokenId: logprob}`. */
  topLogprobs?: Record<number, number>;
}

export interface ScoreResult {
  tokens: ScoredToken[];
  /** Sum of the logprobs (every token but the first). */
  totalLogprob: number;
  /** totalLogprob over the number of tokens scored (all but the first). */
  meanLogprob: number;
}

/**
 * Scores `input`: token ids, chat messages or a string, tokenized exactly as generate does.
 * Uses KV for the whole transcript while it runs and frees all of it before settling.
 * @throws GenerationError INVALID_REQUEST (bad input or options, fewer than two tokens, tags out
 *   of order), CONTEXT_OVERFLOW, KV_EXHAUSTED, ENGINE_ERROR, MODEL_DISPOSED.
 */
export async function scoreTranscript(model: LoadedModel, input: GenerateInput, options: ScoreOptions = {}): Promise<ScoreResult> {
  if (model.isDisposed) throw new GenerationError('MODEL_DISPOSED', 'the model was disposed');
  const top = options.topLogprobs ?? 0;
  if (!(Number.isInteger(top) && top >= 0)) throw new GenerationError('INVALID_REQUEST', `topLogprobs must be an integer >= 0, got ${top}`);
  const tokens = await promptTokens(model, input, { raw: options.raw ?? false });
  if (tokens.length < 2) throw new GenerationError('INVALID_REQUEST', 'scoring needs at least two tokens: the first has no logprob');

  const request = new RequestContext(model.loop);
  try {
    // Every token is stepped once: the transcript's length is its worst case.
    await request.admit(model.admission, Math.min(tokens.length, model.info.kvSlots), true);
    // Without tag ids the transcript is prefilled as one causal sequence.
    const tagIds = options.multiverse?.enabled === false ? undefined : tagIdsOf(model.tagMode);
    const { logits, positions } = await prefillStructured(request, tokens, tagIds, Rng.fromSeed(0), model.info.contextLength);
    const scored = tokens.map((tokenId, i): ScoredToken => {
      // The flattened transcript's rule: the row after the token before, whichever sequence holds it.
      const s = i > 0 ? scoreToken(logits[i - 1], tokenId, top) : undefined;
      return {
        tokenId,
        text: model.tokenizer.idToText(tokenId),
        position: positions[i],
        logprob: s?.logprob,
        ...(s?.topLogprobs ? { topLogprobs: s.topLogprobs } : {}),
      };
    });
    const totalLogprob = scored.reduce((sum, t) => sum + (t.logprob ?? 0), 0);
    return { tokens: scored, totalLogprob, meanLogprob: totalLogprob / (tokens.length - 1) };
  } finally {
    request.releaseAll();
  }
}

/** The structure tags as ids, or undefined for a model that writes them as text. */
function tagIdsOf(mode: TagMode): MultiverseTagIds | undefined {
  return mode.kind === 'ids' ? resolveTagIds((text) => mode.idOf[text as MultiverseTagText]) : undefined;
}
