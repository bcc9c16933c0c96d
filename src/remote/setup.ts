/**
 * What every request of one remote model shares, and the preparation of one request: its prompt
 * text, its options split for the plan and the wire, and its seeds.
 *
 * Prompt text: a remote text API has no tokenizer on our side, so chat input is rendered here
 * with a chat template (ChatML by default: Qwen2.5's, hence Multiverse-32B's), and token-id input
 * is refused.
 *
 * Seeds: one generation makes many requests (the root's stretches between forks, each path, each
 * continuation after a join), and each samples on the server with its own seed: derived from the
 * generation's seed, the branch path and how many requests that branch made before. A run is
 * therefore reproducible on a server that honours `seed`, and no two requests of one run share a
 * random stream.
 */
import { GenerationError } from '../engine/errors.js';
import type { GenerateOptions } from '../engine/generate-options.js';
import { mix32 } from '../engine/rng.js';
import type { ChatMessage } from '../model/tokenizer.js';
import type { MultiverseTemplate } from '../multiverse/template.js';
import type { GenerateInput } from '../rx/generate.js';
import type { CompletionsClient } from './completions-client.js';
import { resolveRemoteOptions, type ChatTemplate, type RemoteRequestOptions } from './options.js';

export interface RemoteSetup {
  client: CompletionsClient;
  template: MultiverseTemplate;
  chatTemplate: ChatTemplate;
  logprobs: boolean;
}

export interface PreparedRequest {
  prompt: string;
  request: RemoteRequestOptions;
  seeds: RequestSeeds;
}

/** @throws GenerationError INVALID_REQUEST for bad input or options. */
export function prepareRequest(setup: RemoteSetup, input: GenerateInput, options: GenerateOptions): PreparedRequest {
  const request = resolveRemoteOptions(options, setup.template, setup.logprobs);
  return { prompt: promptText(input, request.resolved.raw, setup.chatTemplate), request, seeds: new RequestSeeds(request.resolved.seed) };
}

/** ChatML, as Qwen2.5 (and so Multiverse-32B) writes chats, without a default system message. */
export const chatml: ChatTemplate = (messages) => messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + '<|im_start|>assistant\n';

/**
 * A string is sent as is with `raw`, else as one user message through `chatTemplate`.
 * @throws GenerationError INVALID_REQUEST for empty input, token ids, or malformed messages.
 */
export function promptText(input: GenerateInput, raw: boolean, chatTemplate: ChatTemplate): string {
  if (typeof input === 'string') {
    if (input === '') throw new GenerationError('INVALID_REQUEST', 'the prompt is empty');
    return raw ? input : chatTemplate([{ role: 'user', content: input }]);
  }
  if (!Array.isArray(input) || input.length === 0) throw new GenerationError('INVALID_REQUEST', 'input must be a non-empty string or chat messages');
  if (input.every((t) => typeof t === 'number')) {
    throw new GenerationError('INVALID_REQUEST', 'a remote model takes text or chat messages: token ids need the server’s tokenizer');
  }
  const messages = input as readonly ChatMessage[];
  if (!messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw new GenerationError('INVALID_REQUEST', 'chat messages need string role and content');
  }
  return chatTemplate(messages);
}

/** The seed of request number `round` (0, 1, …) of `branch` in a generation seeded with `seed`: an integer in [0, 2^31). */
export function requestSeed(seed: number, branch: string, round: number): number {
  let h = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 4294967296) >>> 0));
  for (let i = 0; i < branch.length; i++) h = mix32(h ^ mix32(branch.charCodeAt(i) + 1));
  // 31 bits: some servers take the seed as a signed 32-bit integer.
  return mix32(h ^ mix32(round + 0x9e3779b9)) >>> 1;
}

/** Hands out the seeds of one generation's (or session's) requests, counting rounds per branch. */
export class RequestSeeds {
  private readonly rounds = new Map<string, number>();

  constructor(readonly seed: number) {}

  next(branch: string): number {
    const round = this.rounds.get(branch) ?? 0;
    this.rounds.set(branch, round + 1);
    return requestSeed(this.seed, branch, round);
  }
}
