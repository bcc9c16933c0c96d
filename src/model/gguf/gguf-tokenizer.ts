/**
 * A GGUF file's tokenizer (`tokenizer.ggml.*` metadata) rebuilt as the Hugging Face
 * `tokenizer.json` and `tokenizer_config.json` objects our tokenizer loader runs. Byte-level BPE
 * (`tokenizer.ggml.model` = "gpt2", as Qwen2 and Llama 3 files carry) is supported. Token types
 * follow llama.cpp: normal and byte tokens form the BPE vocabulary, control tokens become special
 * added tokens, user-defined ones (the Multiverse tags) ordinary added tokens, unused (padding)
 * ones are left out.
 */
import { ModelLoadError } from '../errors.js';
import { bpeTokenizerJson, type AddedTokenJson } from '../bpe-tokenizer-json.js';
import { SPLIT_PATTERNS } from '../split-patterns.js';
import type { GgufHeader, GgufValue } from './gguf-header.js';

export interface GgufTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** `tokenizer.ggml.eos_token_id`, and `eot_token_id` when the file names one. */
  eosTokenIds: number[];
  bosTokenId: number | undefined;
}

/** llama_token_type values. */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** @throws ModelLoadError TOKENIZER_ERROR when the metadata has no usable tokenizer. */
export function ggufTokenizer(header: GgufHeader): GgufTokenizer {
  const { file, metadata } = header;
  const fail = (message: string): never => {
    throw new ModelLoadError('TOKENIZER_ERROR', `${file}: ${message}`, file);
  };
  const model = metadata.get('tokenizer.ggml.model');
  if (model === undefined) fail('the file has no tokenizer (tokenizer.ggml.model is missing)');
  if (model !== 'gpt2') fail(`tokenizer.ggml.model is ${JSON.stringify(model)}; only byte-level BPE ("gpt2") is supported`);
  const tokens = stringArray(metadata.get('tokenizer.ggml.tokens'), 'tokenizer.ggml.tokens', fail);
  const merges = stringArray(metadata.get('tokenizer.ggml.merges'), 'tokenizer.ggml.merges', fail);
  const types = metadata.get('tokenizer.ggml.token_type') ?? tokens.map(() => TOKEN_TYPE.normal);
  if (!Array.isArray(types) || types.length !== tokens.length || types.some((t) => typeof t !== 'number')) {
    fail(`tokenizer.ggml.token_type must list one number per token (${tokens.length})`);
  }
  const pre = metadata.get('tokenizer.ggml.pre') ?? 'default';
  const pattern = typeof pre === 'string' ? SPLIT_PATTERNS[pre] : undefined;
  if (pattern === undefined) fail(`tokenizer.ggml.pre ${JSON.stringify(pre)} is not supported (known: ${Object.keys(SPLIT_PATTERNS).join(', ')})`);

  const tokenId = (key: string): number | undefined => {
    const id = metadata.get(key);
    if (id === undefined) return undefined;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= tokens.length) fail(`${key} is ${JSON.stringify(id)}, not a token id`);
    return id as number;
  };
  const bos = tokenId('tokenizer.ggml.bos_token_id');
  const eos = tokenId('tokenizer.ggml.eos_token_id');
  const eot = tokenId('tokenizer.ggml.eot_token_id');
  const pad = tokenId('tokenizer.ggml.padding_token_id');
  const addBos = metadata.get('tokenizer.ggml.add_bos_token') === true && bos !== undefined;

  const vocab: Record<string, number> = {};
  const added: AddedTokenJson[] = [];
  tokens.forEach((content, id) => {
    const type = (types as number[])[id];
    if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.userDefined) added.push({ id, content, special: type === TOKEN_TYPE.control });
    else if (type !== TOKEN_TYPE.unused) vocab[content] = id;
  });
  const bosText = bos === undefined ? undefined : tokens[bos];
  const tokenizerJson = bpeTokenizerJson({
    vocab,
    merges,
    added,
    splitPattern: pattern as string,
    ...(addBos ? { bos: { id: bos!, content: bosText! } } : {}),
  });

  const chatTemplate = metadata.get('tokenizer.chat_template');
  const tokenizerConfig: Record<string, unknown> = {
    bos_token: bosText ?? null,
    eos_token: eos === undefined ? null : tokens[eos],
    pad_token: pad === undefined ? null : tokens[pad],
    ...(typeof chatTemplate === 'string' ? { chat_template: chatTemplate } : {}),
  };
  const eosTokenIds = [...new Set([eos, eot].filter((id): id is number => id !== undefined))];
  return { tokenizerJson, tokenizerConfig, eosTokenIds, bosTokenId: bos };
}

function stringArray(value: GgufValue | undefined, key: string, fail: (message: string) => never): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(`${key} must be an array of strings`);
  return value as string[];
}
