/**
 * A request's input as prompt token ids: text through the chat template (unless raw), chat
 * messages, or ids checked against the vocabulary and the context.
 */
import { GenerationError } from './errors.js';
import type { ResolvedOptions } from './generate-options.js';
import type { NativeRuntime } from './native-runtime.js';
import type { ChatMessage } from '../model/tokenizer.js';

/** Chat messages, a string (chat template unless `raw`), or token ids. */
export type GenerateInput = string | readonly ChatMessage[] | readonly number[];

/** What encoding a prompt needs of a model: its tokenizer, vocabulary and context. */
type PromptModel = Pick<NativeRuntime, 'tokenizer' | 'checkpoint' | 'info'>;

/**
 * The prompt's token ids, at most `maxTokens` of them (a prompt must leave the context a position to
 * generate into). Text is refused from its byte length alone when it cannot fit, before any
 * encoding, and large text is encoded without holding the event loop (Tokenizer.encodeYielding).
 * @throws GenerationError INVALID_REQUEST for empty or out-of-vocabulary input; CONTEXT_OVERFLOW
 *   for more than `maxTokens` tokens.
 */
export async function promptTokens(
  model: PromptModel,
  input: GenerateInput,
  options: Pick<ResolvedOptions, 'raw'>,
  maxTokens = Infinity,
): Promise<number[]> {
  const { tokenizer } = model;
  const vocab = model.checkpoint.config.vocabSize;
  const encode = async (text: string, addSpecialTokens: boolean) => {
    const least = tokenizer.minTokens(text);
    if (least > maxTokens) {
      throw new GenerationError(
        'CONTEXT_OVERFLOW',
        `the prompt is ${Buffer.byteLength(text)} bytes of text, at least ${least} tokens; at most ${maxTokens} fit ${contextOf(model)}`,
      );
    }
    const ids = await tokenizer.encodeYielding(text, { addSpecialTokens, maxTokens });
    // encodeYielding stops soon after the limit, so the count is then only a lower bound.
    if (ids.length > maxTokens) throw overflow(`at least ${ids.length}`, model);
    return checkPrompt(ids, vocab, maxTokens, model);
  };
  if (typeof input === 'string') {
    const text = options.raw ? input : tokenizer.applyChatTemplate([{ role: 'user', content: input }], { addGenerationPrompt: true });
    return encode(text, options.raw);
  }
  if (!Array.isArray(input)) throw new GenerationError('INVALID_REQUEST', 'input must be a string, chat messages or token ids');
  if (input.every((t) => typeof t === 'number')) return checkPrompt([...(input as number[])], vocab, maxTokens, model);
  const messages = input as readonly ChatMessage[];
  if (!messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw new GenerationError('INVALID_REQUEST', 'chat messages need string role and content');
  }
  return encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), false);
}

function checkPrompt(tokens: number[], vocab: number, maxTokens: number, model: PromptModel): number[] {
  if (tokens.length === 0) throw new GenerationError('INVALID_REQUEST', 'the prompt is empty');
  if (tokens.length > maxTokens) throw overflow(String(tokens.length), model);
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
  if (bad !== undefined) throw new GenerationError('INVALID_REQUEST', `token id ${bad} is outside the vocabulary (0..${vocab - 1})`);
  return tokens;
}

function overflow(count: string, model: PromptModel): GenerationError {
  return new GenerationError('CONTEXT_OVERFLOW', `prompt of ${count} tokens leaves no room in ${contextOf(model)}`);
}

function contextOf(model: PromptModel): string {
  return `a context of ${model.info.contextLength} positions`;
}
