/**
 * Byte-level BPE (GPT-2, Qwen2, Llama 3): each vocabulary token stands for bytes, spelled with one
 * printable character per byte, and decoding ids is the UTF-8 decoding of their bytes, an added
 * token (`<|im_end|>`, the Multiverse tags) standing for its own text. Where a tokenizer decodes
 * exactly so, this table gives each id's piece, so that a stream decodes every token once
 * (model/detokenizer.ts) instead of a window of them. The tokenizer's decode stays the reference
 * (test/tokenizer.test.ts compares the two).
 */

/** What one id stands for: bytes, or an added token's own text; `special` ones are left out by skipSpecialTokens. */
export type TokenPiece = { special: boolean } & ({ bytes: Uint8Array; text?: undefined } | { text: string; bytes?: undefined });

/** What the table is built from: the tokenizer's files and its id → token string map. */
export interface ByteLevelSource {
  json: Record<string, unknown>;
  config: Record<string, unknown>;
  /** The token string of an id (an added token's content for added ids), undefined for no token. */
  tokenOf(id: number): string | undefined;
  /** Added tokens by content. */
  added: ReadonlyMap<string, { special: boolean }>;
}

/**
 * The pieces of a tokenizer whose decode is plain byte-level: its decoder is `ByteLevel` alone, it
 * does not clean up spaces after decoding and its model has no end-of-word suffix. Undefined for
 * any other tokenizer (those decode through the window).
 */
export function byteLevelPieces(source: ByteLevelSource): ByteLevelPieces | undefined {
  const decoder = source.json.decoder as { type?: unknown } | null | undefined;
  const model = source.json.model as { end_of_word_suffix?: unknown } | undefined;
  // @huggingface/tokenizers cleans up unless the config says false.
  if (decoder?.type !== 'ByteLevel' || source.config.clean_up_tokenization_spaces !== false || model?.end_of_word_suffix) return undefined;
  const special = new Set([...source.added].filter(([, t]) => t.special).map(([content]) => content));
  for (const extra of (source.config.additional_special_tokens as unknown[] | undefined) ?? []) if (typeof extra === 'string') special.add(extra);
  return new ByteLevelPieces(source, special);
}

export class ByteLevelPieces {
  /** Pieces by id, made on first use (a 150k vocabulary need not be walked at load). */
  private readonly cache: (TokenPiece | null | undefined)[] = [];

  constructor(
    private readonly source: ByteLevelSource,
    private readonly special: ReadonlySet<string>,
  ) {}

  /** The piece of `id`; undefined for an id that names no token (decode skips those). */
  pieceOf(id: number): TokenPiece | undefined {
    let piece = this.cache[id];
    if (piece === undefined) {
      piece = this.make(id);
      this.cache[id] = piece;
    }
    return piece ?? undefined;
  }

  private make(id: number): TokenPiece | null {
    const token = this.source.tokenOf(id);
    if (token === undefined) return null;
    // Special tokens are known by their text, as decode's skipSpecialTokens knows them.
    const special = this.special.has(token);
    if (this.source.added.has(token)) return { text: token, special };
    // A character outside the byte alphabet decodes as byte 0, as in @huggingface/tokenizers.
    return { bytes: Uint8Array.from(token, (c) => BYTE_OF_CHAR.get(c) ?? 0), special };
  }
}

/**
 * GPT-2's byte alphabet: printable bytes (33-126, 161-172, 174-255) spell themselves; the others,
 * in order, take the characters from U+0100 on.
 */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    map.set(String.fromCharCode(printable ? b : next++), b);
  }
  return map;
})();
