/**
 * What a tokenizer.json lets us know about encoding cost before encoding: the most input bytes one
 * token can stand for (so a prompt too long for the context is refused from its byte length alone),
 * and whether text may be cut into pieces that encode to exactly the ids of the whole (so a large
 * prompt is encoded a piece at a time, yielding to the event loop between pieces).
 *
 * Both are proven only for pipelines we recognise; for any other the answers are "unbounded" and
 * "no", which costs speed, never correctness.
 */

/** The parts of a tokenizer.json (and tokenizer_config.json) the plan reads. */
export interface TokenizerDescription {
  json: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Every vocabulary entry as the model stores it, added tokens included. */
  vocab: Iterable<string>;
  addedTokens: Iterable<{ content: string; lstrip?: boolean; rstrip?: boolean }>;
}

export interface EncodePlan {
  /** Most UTF-8 bytes of input one token can stand for; undefined when the pipeline can shrink text without bound. */
  maxBytesPerToken: number | undefined;
  /** Whether text may be cut before a space that follows a non-space without changing its ids. */
  cutsBeforeSpaces: boolean;
  /** Whether the post-processor adds tokens (a BOS, say) when special tokens are asked for. */
  postProcessorAddsTokens: boolean;
}

/**
 * How many bytes of input one byte of normalized text can stand for, at most, per normalizer.
 * NFC composes at most three code points into one (Hangul L+V+T: 9 bytes become 3); NFKC also folds
 * 4-byte mathematical letters to 1-byte ASCII. Neither ever deletes text.
 */
const NORMALIZER_SHRINK: Record<string, number> = { NFC: 3, NFKC: 4 };

/**
 * Pre-tokenizer splits known to end every piece at a non-space and start the next one at the space
 * that follows it (no alternative matches a non-space followed by a space), so a cut there changes
 * nothing: Qwen2's (also our BPE trainer's) and Llama 3's / cl100k's.
 */
const SPLITS_BEFORE_SPACES = new Set([
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
]);

export function encodePlan(t: TokenizerDescription): EncodePlan {
  const { json, config } = t;
  const normalizer = json.normalizer as { type?: string } | null | undefined;
  const preTokenizer = json.pre_tokenizer as PreTokenizer | null | undefined;
  const added = [...t.addedTokens];
  const byteLevel = isByteLevel(preTokenizer);

  // Stripping added tokens or config-level space removal and accent folding delete text.
  const deletesText = added.some((a) => a.lstrip || a.rstrip) || config.remove_space === true || config.do_lowercase_and_remove_accent === true;
  const shrink = normalizer == null ? 1 : NORMALIZER_SHRINK[normalizer.type ?? ''];
  let longest = 0;
  for (const token of t.vocab) {
    // Byte-level vocabularies spell each byte as one character; anything else is measured in UTF-8.
    longest = Math.max(longest, byteLevel ? token.length : Buffer.byteLength(token));
  }
  for (const a of added) longest = Math.max(longest, Buffer.byteLength(a.content));

  const cutsBeforeSpaces =
    !deletesText &&
    (normalizer == null || normalizer.type === 'NFC' || normalizer.type === 'NFKC') &&
    splitsBeforeSpaces(preTokenizer) &&
    added.every((a) => !/\s/u.test(a.content));
  const postType = (json.post_processor as { type?: string } | null | undefined)?.type;
  return {
    maxBytesPerToken: deletesText || shrink === undefined || longest === 0 ? undefined : longest * shrink,
    cutsBeforeSpaces,
    postProcessorAddsTokens: postType !== undefined && postType !== 'ByteLevel',
  };
}

interface PreTokenizer {
  type?: string;
  use_regex?: boolean;
  add_prefix_space?: boolean;
  pattern?: { Regex?: string };
  behavior?: string;
  invert?: boolean;
  pretokenizers?: PreTokenizer[];
}

function isByteLevel(p: PreTokenizer | null | undefined): boolean {
  if (p?.type === 'ByteLevel') return true;
  return p?.type === 'Sequence' && (p.pretokenizers ?? []).some((q) => q.type === 'ByteLevel');
}

/** GPT-2's ByteLevel regex, or a known Split regex followed by a ByteLevel that does not split again. */
function splitsBeforeSpaces(p: PreTokenizer | null | undefined): boolean {
  if (p?.type === 'ByteLevel') return p.use_regex !== false && p.add_prefix_space === false;
  if (p?.type !== 'Sequence' || p.pretokenizers?.length !== 2) return false;
  const [split, bytes] = p.pretokenizers;
  return (
    split.type === 'Split' &&
    SPLITS_BEFORE_SPACES.has(split.pattern?.Regex ?? '') &&
    split.behavior === 'Isolated' &&
    split.invert !== true &&
    bytes.type === 'ByteLevel' &&
    bytes.use_regex === false &&
    bytes.add_prefix_space === false
  );
}

/**
 * `text` in pieces of about `size` characters, each cut just before a space that follows a
 * non-space; a stretch without such a space stays whole. The pieces concatenate to `text`.
 */
export function* piecesBeforeSpaces(text: string, size: number): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    let cut = text.indexOf(' ', start + size);
    while (cut !== -1 && /\s/u.test(text[cut - 1])) cut = text.indexOf(' ', cut + 1);
    if (cut === -1) break;
    yield text.slice(start, cut);
    start = cut;
  }
  yield text.slice(start);
}
