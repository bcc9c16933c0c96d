/**
 * Pre-tokenizer split patterns of byte-level BPE tokenizers, as tokenizer.json writes them
 * (Oniguruma syntax), by the name llama.cpp gives each in `tokenizer.ggml.pre`.
 */

/** Qwen2: digits are split one by one. */
export const QWEN2_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Llama 3: digits in runs of up to three. */
export const LLAMA3_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's own pattern. */
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** `tokenizer.ggml.pre` values and their patterns. */
export const SPLIT_PATTERNS: Readonly<Record<string, string>> = {
  qwen2: QWEN2_SPLIT_PATTERN,
  'llama-bpe': LLAMA3_SPLIT_PATTERN,
  llama3: LLAMA3_SPLIT_PATTERN,
  gpt2: GPT2_SPLIT_PATTERN,
  default: GPT2_SPLIT_PATTERN,
};
