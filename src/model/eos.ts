/** The end-of-sequence ids generation stops at, one rule for the engine and for `inspect`. */
import type { Checkpoint } from './checkpoint.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * The tokenizer's eos token and every id generation_config.json (else config.json) lists: Qwen2.5
 * lists both <|im_end|> and <|endoftext|>, and its tokenizer names only one.
 */
export function eosTokenIds(checkpoint: Pick<Checkpoint, 'eosTokenIds'>, tokenizer: Pick<Tokenizer, 'eosTokenIds'>): number[] {
  return [...new Set([...tokenizer.eosTokenIds, ...checkpoint.eosTokenIds])];
}
