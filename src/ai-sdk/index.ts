/**
 * `multiverse-rx/ai-sdk`: a multiverse-rx model as a Vercel AI SDK language model.
 *
 * @example
 * ```ts
 * import { streamText } from 'ai';
 * import { loadModel } from 'multiverse-rx';
 * import { multiverse } from 'multiverse-rx/ai-sdk';
 *
 * const model = await loadModel();
 * const result = streamText({ model: multiverse(model), prompt: 'Compute 37*4+12*9', temperature: 0 });
 * for await (const text of result.textStream) process.stdout.write(text);
 * console.log((await result.providerMetadata)?.multiverse.parallelism);
 * ```
 * @packageDocumentation
 */
import type { GenerationApi } from '../rx/generation-api.js';
import { MultiverseLanguageModel, type MultiverseProviderSettings } from './language-model.js';

export { MultiverseLanguageModel, type MultiverseProviderSettings };

/** The AI SDK language model of a loaded model (`loadModel()`) or a remote backend (`remoteModel()`). */
export function multiverse(model: GenerationApi, settings: MultiverseProviderSettings = {}): MultiverseLanguageModel {
  return new MultiverseLanguageModel(model, settings);
}
