/**
 * What every request of one remote model shares, and the preparation of one request: its prompt
 * text, its options split for the scheduler and the wire, and its seeds.
 */
import type { GenerateOptions } from '../engine/generate-options.js';
import type { MultiverseTemplate } from '../multiverse/template.js';
import type { GenerateInput } from '../rx/generate.js';
import type { CompletionsClient } from './completions-client.js';
import { resolveRemoteOptions, type RemoteRequestOptions } from './options.js';
import { promptText, type ChatTemplate } from './prompt.js';
import { RequestSeeds } from './seeds.js';

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
