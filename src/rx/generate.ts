/**
 * The cold Observable behind Model.generate(): subscribing tokenizes the input, creates a native
 * sequence and decodes it through the shared step loop; unsubscribing cancels and releases the
 * sequence's KV between steps. Errors arrive as GenerationError through `subscriber.error`.
 */
import { Observable } from 'rxjs';
import { decodeSequence } from '../engine/decode-sequence.js';
import { GenerationError } from '../engine/errors.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from '../engine/generate-options.js';
import type { Model } from '../model/model.js';
import type { ChatMessage } from '../model/tokenizer.js';
import type { GenerationEvent } from './events.js';

/** Chat messages, a string (chat template unless `raw`), or token ids. */
export type GenerateInput = string | readonly ChatMessage[] | readonly number[];

export function generateEvents(model: Model, input: GenerateInput, options: GenerateOptions): Observable<GenerationEvent> {
  return new Observable<GenerationEvent>((subscriber) => {
    let cancelled = false;
    let seq: number | undefined;
    const releaseSeq = () => {
      if (seq === undefined) return;
      const s = seq;
      seq = undefined;
      if (!model.isDisposed) model.loop.release(s);
    };

    const start = async () => {
      if (model.isDisposed) throw new GenerationError('MODEL_DISPOSED', 'the model was disposed');
      const resolved = resolveOptions(options, {
        generationConfig: model.checkpoint.generationConfig,
        // generation_config.json may list several (Qwen2.5: <|im_end|> and <|endoftext|>); take all.
        eosTokenIds: [...new Set([...model.tokenizer.eosTokenIds, ...model.checkpoint.eosTokenIds])],
      });
      const prompt = promptTokens(model, input, resolved);
      const ctx = model.info.contextLength;
      if (prompt.length >= ctx) {
        throw new GenerationError('CONTEXT_OVERFLOW', `prompt of ${prompt.length} tokens leaves no room in a context of ${ctx} positions`);
      }
      seq = model.engine.createSequence();
      const done = await decodeSequence(
        { loop: model.loop, tokenizer: model.tokenizer, contextLength: ctx },
        { seq, branch: '0', prompt, options: resolved, emit: (e) => subscriber.next(e), cancelled: () => cancelled },
      );
      releaseSeq();
      if (done) {
        subscriber.next(done);
        subscriber.complete();
      }
    };

    start().catch((err: unknown) => {
      releaseSeq();
      if (!cancelled) subscriber.error(err);
    });

    return () => {
      cancelled = true;
      releaseSeq();
    };
  });
}

function promptTokens(model: Model, input: GenerateInput, options: ResolvedOptions): number[] {
  const { tokenizer } = model;
  const vocab = model.checkpoint.config.vocabSize;
  if (typeof input === 'string') {
    const text = options.raw ? input : tokenizer.applyChatTemplate([{ role: 'user', content: input }], { addGenerationPrompt: true });
    return checkPrompt(tokenizer.encode(text, { addSpecialTokens: options.raw }), vocab);
  }
  if (!Array.isArray(input)) throw new GenerationError('INVALID_REQUEST', 'input must be a string, chat messages or token ids');
  if (input.every((t) => typeof t === 'number')) return checkPrompt([...(input as number[])], vocab);
  const messages = input as readonly ChatMessage[];
  if (!messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw new GenerationError('INVALID_REQUEST', 'chat messages need string role and content');
  }
  return checkPrompt(tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false }), vocab);
}

function checkPrompt(tokens: number[], vocab: number): number[] {
  if (tokens.length === 0) throw new GenerationError('INVALID_REQUEST', 'the prompt is empty');
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
  if (bad !== undefined) throw new GenerationError('INVALID_REQUEST', `token id ${bad} is outside the vocabulary (0..${vocab - 1})`);
  return tokens;
}
