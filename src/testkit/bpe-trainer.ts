/**
 * Trains a byte-level BPE the way GPT-2 and Qwen2 tokenizers are built: text is split into chunks
 * by the Qwen2 pre-tokenizer regex, each chunk's UTF-8 bytes are mapped to printable characters,
 * and the most frequent adjacent pair is merged until the vocabulary reaches the size asked for.
 * Fully deterministic (ties are broken by the pair's text), so the same corpus and size always
 * give the same tokenizer.
 */

// The Qwen2 split pattern (QWEN2_SPLIT_PATTERN in model/split-patterns.ts) for JavaScript: Node 20
// has no inline `(?i:...)`, so the contractions spell out both cases.
const SPLIT_REGEX =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/**
 * The byte-to-character table of byte-level BPE: printable Latin-1 bytes stand for themselves,
 * and the other 68 bytes (controls, space, ...) map to U+0100 upwards in byte order, so every
 * token is printable text (space becomes `Ġ`, newline `Ċ`).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(printable(b) ? b : next++));
  return table;
})();

const utf8 = new TextEncoder();

/** Splits text into pre-tokenizer chunks, each as its byte-level characters. */
export function preTokenize(text: string): string[] {
  return Array.from(text.matchAll(SPLIT_REGEX), (m) =>
    Array.from(utf8.encode(m[0]), (b) => BYTE_TO_CHAR[b]).join(''),
  );
}

export interface TrainedBpe {
  /** Token text (byte-level characters) to id: ids 0-255 are the single bytes in byte order. */
  vocab: Map<string, number>;
  /** Merges in rank order, as [left, right] token texts. */
  merges: [string, string][];
}

/**
 * Trains a BPE whose vocabulary (256 byte tokens plus learned tokens) has exactly `vocabSize`
 * entries. Throws a RangeError when the corpus runs out of pairs to merge first.
 */
export function trainBpe(corpus: string, vocabSize: number): TrainedBpe {
  if (!Number.isInteger(vocabSize) || vocabSize < 256) {
    throw new RangeError(`BPE vocab size must be an integer >= 256, got ${vocabSize}`);
  }
  const vocab = new Map(BYTE_TO_CHAR.map((c, i) => [c, i]));
  const merges: [string, string][] = [];

  const counts = new Map<string, number>();
  for (const chunk of preTokenize(corpus)) counts.set(chunk, (counts.get(chunk) ?? 0) + 1);
  const words = Array.from(counts, ([chunk, count]) => ({ symbols: Array.from(chunk), count }));

  while (vocab.size < vocabSize) {
    const best = mostFrequentPair(words);
    if (best === undefined) {
      throw new RangeError(`the corpus supports a BPE vocab of at most ${vocab.size}, asked for ${vocabSize}`);
    }
    const [left, right] = best;
    merges.push([left, right]);
    // Two merge orders can build the same text; like the reference trainer, keep one id for it.
    if (!vocab.has(left + right)) vocab.set(left + right, vocab.size);
    for (const word of words) mergePair(word.symbols, left, right);
  }
  return { vocab, merges };
}

// Byte-level characters are never a plain space, so a space joins a pair into one map key.
function mostFrequentPair(words: { symbols: string[]; count: number }[]): [string, string] | undefined {
  const pairs = new Map<string, number>();
  for (const { symbols, count } of words) {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] + ' ' + symbols[i + 1];
      pairs.set(key, (pairs.get(key) ?? 0) + count);
    }
  }
  let bestKey: string | undefined;
  let bestCount = 0;
  for (const [key, count] of pairs) {
    if (count > bestCount || (count === bestCount && bestKey !== undefined && key < bestKey)) {
      bestKey = key;
      bestCount = count;
    }
  }
  if (bestKey === undefined) return undefined;
  const space = bestKey.indexOf(' ');
  return [bestKey.slice(0, space), bestKey.slice(space + 1)];
}

/** Merges every left-to-right occurrence of (left, right) in place. */
function mergePair(symbols: string[], left: string, right: string): void {
  let out = 0;
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      symbols[out++] = left + right;
      i++;
    } else {
      symbols[out++] = symbols[i];
    }
  }
  symbols.length = out;
}
