/**
 * An AI SDK prompt (LanguageModelV3Prompt) as the chat messages our models take: system, user and
 * assistant text. Files, tool calls and tool results have no counterpart in a local text model:
 * they fail the call with a message naming the part, rather than being dropped silently.
 */
import type { LanguageModelV3Prompt } from '@ai-sdk/provider';
import type { ChatMessage } from '../model/tokenizer.js';

export function chatMessages(prompt: LanguageModelV3Prompt): ChatMessage[] {
  return prompt.map((message) => {
    if (message.role === 'system') return { role: 'system', content: message.content };
    if (message.role === 'tool') throw new TypeError('multiverse-rx models take no tool results: the prompt has a tool message');
    const content = message.content.map((part) => {
      if (part.type === 'text') return part.text;
      throw new TypeError(`multiverse-rx models take text only: the ${message.role} message has a ${part.type} part`);
    });
    return { role: message.role, content: content.join('') };
  });
}
