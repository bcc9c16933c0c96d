/**
 * AI SDK call settings as generation options. Settings a local Multiverse model does not have
 * (penalties on presence and frequency, JSON response formats, tools) come back as warnings, the
 * AI SDK's way of saying a setting was not applied.
 */
import type { LanguageModelV3CallOptions, SharedV3Warning } from '@ai-sdk/provider';
import type { GenerateOptions } from '../engine/generate-options.js';

export function generateOptions(call: LanguageModelV3CallOptions, defaults: GenerateOptions): { options: GenerateOptions; warnings: SharedV3Warning[] } {
  const warnings: SharedV3Warning[] = [];
  const unsupported = (feature: string, details?: string) => warnings.push({ type: 'unsupported', feature, ...(details ? { details } : {}) });
  if (call.presencePenalty !== undefined) unsupported('presencePenalty', 'use providerOptions.multiverse.repetitionPenalty');
  if (call.frequencyPenalty !== undefined) unsupported('frequencyPenalty', 'use providerOptions.multiverse.repetitionPenalty');
  if (call.responseFormat?.type === 'json') unsupported('responseFormat', 'JSON output is not constrained');
  if (call.tools?.length) unsupported('tools');
  const own = (call.providerOptions?.multiverse ?? {}) as GenerateOptions;
  const options: GenerateOptions = {
    ...defaults,
    ...(call.maxOutputTokens !== undefined ? { maxTokens: call.maxOutputTokens } : {}),
    ...(call.temperature !== undefined ? { temperature: call.temperature } : {}),
    ...(call.topP !== undefined ? { topP: call.topP } : {}),
    ...(call.topK !== undefined ? { topK: call.topK } : {}),
    ...(call.seed !== undefined ? { seed: call.seed } : {}),
    ...(call.stopSequences?.length ? { stop: call.stopSequences } : {}),
    ...(call.abortSignal ? { signal: call.abortSignal } : {}),
    ...own,
  };
  return { options, warnings };
}
