/**
 * Turns a stream of token ids into a stream of text pieces. A byte-level BPE token may end in the
 * middle of a multi-byte UTF-8 character; such a tail decodes to U+FFFD, so text is held back
 * until the character is complete. Some decoders also change a token's text depending on what
 * precedes it, so each step decodes a short window (emitted tokens as context, then the pending
 * ones) and emits only what the pending tokens added to it.
 *
 * One decode per token: the context's text is the text of the decode that emitted it, kept. When
 * the window is full it restarts from the tokens just emitted (one more decode, every few tokens).
 *
 * A byte-level tokenizer (`byteLevelPieces`) needs no window: its text is the UTF-8 decoding of the
 * tokens' bytes, so each token's bytes go once through a streaming UTF-8 decoder, which holds an
 * incomplete character's bytes itself. Both paths emit the same pieces (test/tokenizer.test.ts).
 */
import type { Tokenizer } from './tokenizer.js';

const REPLACEMENT_CHAR = '\uFFFD';
/** Tokens in the window before it restarts: short, since each push decodes all of them. */
const WINDOW = 8;

export class StreamingDetokenizer {
  /** [0, read) already emitted (the context), [read, ...) pending. */
  private ids: number[] = [];
  private read = 0;
  /** decode(ids[0, read)). */
  private contextText = '';

  /** Byte-level path: the bytes of an incomplete character wait inside. */
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  /** Byte-level path: decoded text ending in U+FFFD, held as the window path holds it. */
  private held = '';

  constructor(private readonly tokenizer: Pick<Tokenizer, 'decode' | 'byteLevelPieces'>) {}

  /** Adds one token; returns the text that is now safe to emit ('' while a character is incomplete). */
  push(tokenId: number): string {
    if (this.tokenizer.byteLevelPieces) return this.pushBytes(tokenId);
    this.ids.push(tokenId);
    const text = this.decode(this.ids);
    if (text.length <= this.contextText.length || text.endsWith(REPLACEMENT_CHAR)) return '';
    const piece = text.slice(this.contextText.length);
    if (this.ids.length >= WINDOW) {
      // The tokens just emitted become the whole context; older ones are no longer needed.
      this.ids = this.ids.slice(this.read);
      this.contextText = this.decode(this.ids);
    } else {
      this.contextText = text;
    }
    this.read = this.ids.length;
    return piece;
  }

  /** Special tokens (`<|im_end|>`…) are control, not text; the Multiverse tags are not special and stay. */
  private decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  private pushBytes(tokenId: number): string {
    const piece = this.tokenizer.byteLevelPieces!.pieceOf(tokenId);
    // Unknown ids and special tokens decode to nothing and do not split a character's bytes.
    if (piece === undefined || piece.special) return '';
    // An added token ends the bytes before it: an incomplete character there is U+FFFD, as in decode().
    this.held += piece.bytes ? this.utf8.decode(piece.bytes, { stream: true }) : this.utf8.decode() + piece.text;
    // A replacement character at the end may be followed by more (the window path holds it too).
    if (this.held.endsWith(REPLACEMENT_CHAR)) return '';
    const text = this.held;
    this.held = '';
    return text;
  }

  /** Emits whatever is still pending (an incomplete character as U+FFFD) and starts over. */
  flush(): string {
    if (this.tokenizer.byteLevelPieces) {
      const rest = this.held + this.utf8.decode();
      this.held = '';
      return rest;
    }
    const text = this.read === this.ids.length ? this.contextText : this.decode(this.ids);
    const piece = text.slice(this.contextText.length);
    this.ids = [];
    this.read = 0;
    this.contextText = '';
    return piece;
  }
}
