/**
 * Options of the remote backend: how remoteModel() is configured, and how one request's
 * GenerateOptions split into what the Multiverse plan enforces (limits, Multiverse guards, stop strings,
 * seed: resolved and checked exactly as the embedded engine does) and what each HTTP request
 * carries (sampling fields, in the wire names OpenAI, vLLM and SGLang use).
 */
import { GenerationError } from '../engine/errors.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from '../engine/generate-options.js';
import type { MultiverseTemplate } from '../multiverse/template.js';
import type { ChatMessage } from '../model/tokenizer.js';

/** Renders chat messages into the prompt text, the assistant's turn opened. */
export type ChatTemplate = (messages: readonly ChatMessage[]) => string;

export interface RemoteModelOptions {
  /** Sent as `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** The `model` field of every request. Default: the first model `GET /models` lists. */
  model?: string;
  /** The fetch to use (a proxy agent, a test double). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Fields added to every request body: server extensions such as vLLM's `return_tokens_as_token_ids`. */
  extraBody?: Record<string, unknown>;
  /**
   * The model's forced path and conclusion openers (`pathOpener` contains `{label}`). Default
   * `<Path>{label}:` and `<Conclusion>`; Multiverse-32B's engine uses `\n<Path>\n{label}`.
   */
  template?: MultiverseTemplate;
  /** Renders chat input (and non-raw strings) into the prompt text. Default: ChatML. */
  chatTemplate?: ChatTemplate;
  /**
   * Ask every request for logprobs (`logprobs: topLogprobs ?? 0`): tokens are then counted one by
   * one and carry their logprob, which bestOf scores by. Default true; turn off for a server that
   * refuses logprobs (token logprobs are then NaN).
   */
  logprobs?: boolean;
}

/** One request's options, split. */
export interface RemoteRequestOptions {
  resolved: ResolvedOptions;
  /** Sampling fields every HTTP request of the generation carries. */
  sampling: Record<string, unknown>;
}

/**
 * @throws GenerationError INVALID_REQUEST naming the bad option, or for `pickToken` (it needs the
 * logits, which a remote server does not send).
 */
export function resolveRemoteOptions(options: GenerateOptions, template: MultiverseTemplate, logprobs: boolean): RemoteRequestOptions {
  if (options.pickToken) throw new GenerationError('INVALID_REQUEST', 'pickToken needs the logits: a remote model cannot run it');
  const resolved = resolveOptions(options, { eosTokenIds: [], template });
  const topLogprobs = options.topLogprobs ?? 0;
  // Only what the caller set travels: the server's defaults stand for the rest. top_k, min_p,
  // repetition_penalty, stop_token_ids and ignore_eos are vLLM/SGLang extensions OpenAI refuses.
  const fields: [string, unknown][] = [
    ['temperature', options.temperature],
    ['top_p', options.topP],
    ['top_k', options.topK],
    ['min_p', options.minP],
    ['repetition_penalty', options.repetitionPenalty],
    ['logprobs', logprobs || topLogprobs > 0 ? topLogprobs : undefined],
    ['stop_token_ids', options.stopTokenIds?.length ? options.stopTokenIds : undefined],
    ['ignore_eos', options.ignoreEos || undefined],
  ];
  return { resolved, sampling: Object.fromEntries(fields.filter(([, v]) => v !== undefined)) };
}
