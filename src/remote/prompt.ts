/**
 * The prompt text of a remote request. A remote text API has no tokenizer on our side, so chat
 * input is rendered here with a chat template (ChatML by default: Qwen2.5's, hence
 * Multiverse-32B's), and token-id input is refused.
 */
import { GenerationError } from '../engine/errors.js';
import type { ChatMessage } from '../model/tokenizer.js';
import type { GenerateInput } from '../rx/generate.js';

/** Renders chat messages into the prompt text, the assistant's turn opened. */
export type ChatTemplate = (messages: readonly ChatMessage[]) => string;

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
