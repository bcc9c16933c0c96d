/**
 * The `tokenizer.json` object of a byte-level BPE tokenizer as Qwen2 and Llama 3 ship it: a regex
 * split then byte-level mapping, BPE with merges, byte-level decoding. Built in memory for GGUF
 * files (from their metadata) and for the test checkpoints.
 */

export interface AddedTokenJson {
  id: number;
  content: string;
  /** Special tokens (ChatML markers) are left out when decoding with skip_special_tokens. */
  special: boolean;
}

export interface BpeTokenizerParts {
  /** Token text (byte-level characters) to id. */
  vocab: Record<string, number>;
  /** Merges in rank order, "left right". */
  merges: string[] | [string, string][];
  added: AddedTokenJson[];
  /** The pre-tokenizer's split regex (split-patterns.ts). */
  splitPattern: string;
  /** A token put before every sequence (Llama 3's <|begin_of_text|>); none by default. */
  bos?: { id: number; content: string };
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

export function bpeTokenizerJson(p: BpeTokenizerParts): Record<string, unknown> {
  const bos = p.bos;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: p.added.map(({ id, content, special }) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: p.splitPattern }, behavior: 'Isolated', invert: false }, BYTE_LEVEL],
    },
    post_processor: bos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] } },
        }
      : BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: p.vocab,
      merges: p.merges,
    },
  };
}
