/**
 * Turns a stream of token ids into a stream of text pieces. A byte-level BPE token may end in the
 * middle of a multi-byte UTF-8 character; such a tail decodes to U+FFFD, so text is held back
 * until the character is complete. Some decoders also change a token's text depending on what
 * precedes it, so each step decodes a short window (the last emitted tokens plus the pending
 * ones) and emits only what the pending tokens added to it.
 */
import type { Tokenizer } from './tokenizer.js';

const REPLACEMENT_CHAR = '\uFFFD';

export class StreamingDetokenizer {
  /** Ids from the start of the context window: [0, read) already emitted, [read, ...) pending. */
  private ids: number[] = [];
  private read = 0;

  constructor(private readonly tokenizer: Pick<Tokenizer, 'decode'>) {}

  /** Adds one token; returns the text that is now safe to emit ('' while a character is incomplete). */
  push(tokenId: number): string {
    this.ids.push(tokenId);
    const context = this.decode(this.ids.slice(0, this.read));
    const text = this.decode(this.ids);
    if (text.length <= context.length || text.endsWith(REPLACEMENT_CHAR)) return '';
    // The emitted tokens become the context of the next step; older ones are no longer needed.
    this.ids = this.ids.slice(this.read);
    this.read = this.ids.length;
    return text.slice(context.length);
  }

  /** Special tokens (`<|im_end|>`…) are control, not text; the Multiverse tags are not special and stay. */
  private decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  /** Emits whatever is still pending (an incomplete character as U+FFFD) and starts over. */
  flush(): string {
    const context = this.decode(this.ids.slice(0, this.read));
    const text = this.decode(this.ids);
    this.ids = [];
    this.read = 0;
    return text.slice(context.length);
  }
}
