/**
 * The tokenizer of a model folder: `tokenizer.json` (run by @huggingface/tokenizers) and
 * `tokenizer_config.json` (special tokens and the chat template, rendered by @huggingface/jinja).
 */
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { byteLevelPieces, type ByteLevelPieces } from './byte-level-pieces.js';
import { ModelLoadError } from './errors.js';
import { encodePlan, piecesBeforeSpaces, type EncodePlan } from './encode-plan.js';
import { readModelText } from './model-file.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface Tokenizer {
  /** Smallest vocab that holds every token id of the tokenizer (added tokens included). */
  readonly vocabSize: number;
  /** The end-of-sequence id from tokenizer_config.json's `eos_token` (empty when none). */
  readonly eosTokenIds: readonly number[];
  /** tokenizer_config.json's named special tokens that are set (`bos_token`, `eos_token`, `unk_token`, `pad_token`), as text. */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** Source of the chat template (tokenizer_config.json or chat_template.jinja); undefined when the model has none. */
  readonly chatTemplate: string | undefined;
  /** Token ids of `text`. `addSpecialTokens` (default true, as in HF) runs the post-processor (e.g. a BOS). */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /**
   * encode()'s ids without holding the event loop: text over ~16k characters is encoded in pieces
   * cut where the tokenizer splits anyway (see encode-plan.ts), yielding to the event loop between
   * pieces. Stops after the piece that takes the count past `maxTokens` (default: no limit), so an
   * over-long text costs at most one piece more than the limit. Tokenizers whose pipeline is not
   * known to allow the cuts encode in one piece.
   */
  encodeYielding(text: string, options?: { addSpecialTokens?: boolean; maxTokens?: number }): Promise<number[]>;
  /**
   * Fewest tokens `text` can encode to, from its UTF-8 length and the most bytes one token stands
   * for; 0 when the pipeline can shrink text without bound. Costs one pass over the string, no encoding.
   */
  minTokens(text: string): number;
  /**
   * Text of `ids`; ids that name no token are skipped (as HF tokenizers do) and [] gives ''.
   * `skipSpecialTokens` (default false, as in HF) leaves out special tokens such as `<|im_end|>`;
   * the Multiverse tags are ordinary added tokens and always stay.
   */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Text of one token: may be an incomplete UTF-8 character (shown as U+FFFD) for byte-level tokens. */
  idToText(id: number): string;
  /** Each id's bytes or added text, when decode() is exactly their UTF-8 decoding (byte-level BPE); else undefined. */
  readonly byteLevelPieces?: ByteLevelPieces;
  /** Id of an added token (special tokens, tags) by its exact text; undefined for anything else. */
  tokenId(text: string): number | undefined;
  /**
   * Renders the chat template over `messages`. `addGenerationPrompt` (default false, as in HF)
   * appends the opener of the assistant's turn. Throws TOKENIZER_ERROR when the model has no template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

/** Loads the tokenizer of the model folder `dir`. */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const jsonFile = path.join(dir, 'tokenizer.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  const json = await readJson(jsonFile);
  if (json === undefined) throw new ModelLoadError('TOKENIZER_ERROR', `${jsonFile} not found`, jsonFile);
  // tokenizer_config.json is optional: without it there are no special-token names or template.
  const config = (await readJson(configFile)) ?? {};
  const template = await findChatTemplate(dir, config, configFile);
  return createTokenizer(json, config, { json: jsonFile, config: configFile, template: template.file }, template.source);
}

/**
 * A tokenizer from tokenizer.json and tokenizer_config.json contents held in memory (a GGUF
 * file's metadata rebuilt as them) and the chat template's source. `files` names where each came
 * from, for error messages.
 * @throws ModelLoadError TOKENIZER_ERROR when the tokenizer or the chat template does not parse.
 */
export function createTokenizer(
  json: Record<string, unknown>,
  config: Record<string, unknown>,
  files: { json: string; config: string; template: string },
  chatTemplate: string | undefined,
): Tokenizer {
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (e) {
    throw new ModelLoadError('TOKENIZER_ERROR', `${files.json} is not a valid tokenizer: ${(e as Error).message}`, files.json);
  }
  let template: Template | undefined;
  if (chatTemplate !== undefined) {
    try {
      template = new Template(chatTemplate);
    } catch (e) {
      throw new ModelLoadError('TOKENIZER_ERROR', `chat template in ${files.template} does not parse: ${(e as Error).message}`, files.template);
    }
  }
  const plan = encodePlan({ json, config, vocab: hf.get_vocab(true).keys(), addedTokens: hf.get_added_tokens_decoder().values() });
  const addedTokens = [...hf.get_added_tokens_decoder().values()] as { content: string; special: boolean }[];
  const added = new Map(addedTokens.map((t) => [t.content, { special: t.special }]));
  const pieces = byteLevelPieces({ json, config, tokenOf: (id) => hf.id_to_token(id), added });
  return new HfBackedTokenizer(hf, config, template, chatTemplate, files.config, plan, pieces);
}

/** Characters per piece of encodeYielding: about 25 ms of encoding on the idle 2-core dev machine (~1.5 s per MB). */
const PIECE_CHARS = 16_384;

class HfBackedTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  readonly specialTokens: Record<string, string>;
  private readonly addedIds: Map<string, number>;

  constructor(
    private readonly hf: HfTokenizer,
    config: Record<string, unknown>,
    private readonly template: Template | undefined,
    readonly chatTemplate: string | undefined,
    private readonly configFile: string,
    private readonly plan: EncodePlan,
    readonly byteLevelPieces: ByteLevelPieces | undefined,
  ) {
    let maxId = -1;
    for (const id of hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.addedIds = new Map(Array.from(hf.get_added_tokens_decoder(), ([id, t]) => [t.content, id]));

    this.specialTokens = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
      const content = tokenContent(config[key]);
      if (content !== undefined) this.specialTokens[key] = content;
    }
    const eos = this.specialTokens.eos_token === undefined ? undefined : hf.token_to_id(this.specialTokens.eos_token);
    this.eosTokenIds = eos === undefined ? [] : [eos];
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  async encodeYielding(text: string, options: { addSpecialTokens?: boolean; maxTokens?: number } = {}): Promise<number[]> {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const cuttable = this.plan.cutsBeforeSpaces && !(addSpecialTokens && this.plan.postProcessorAddsTokens);
    if (!cuttable || text.length <= PIECE_CHARS) return this.encode(text, { addSpecialTokens });
    const ids: number[] = [];
    for (const piece of piecesBeforeSpaces(text, PIECE_CHARS)) {
      if (ids.length > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const id of this.encode(piece, { addSpecialTokens })) ids.push(id);
      if (ids.length > (options.maxTokens ?? Infinity)) break;
    }
    return ids;
  }

  minTokens(text: string): number {
    const perToken = this.plan.maxBytesPerToken;
    return perToken === undefined ? 0 : Math.ceil(Buffer.byteLength(text) / perToken);
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const known = ids.filter((id) => this.hf.id_to_token(id) !== undefined);
    // The library throws on an empty list.
    return known.length === 0 ? '' : this.hf.decode(known, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  idToText(id: number): string {
    return this.decode([id]);
  }

  tokenId(text: string): number | undefined {
    return this.addedIds.get(text);
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.template === undefined) {
      throw new ModelLoadError('TOKENIZER_ERROR', `${this.configFile} has no chat_template`, this.configFile);
    }
    return this.template.render({
      ...this.specialTokens,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  }
}

/**
 * The chat template: `chat_template` in tokenizer_config.json (a string, or a list of named
 * templates of which we take "default"), else the separate `chat_template.jinja` newer
 * checkpoints ship.
 */
async function findChatTemplate(
  dir: string,
  config: Record<string, unknown>,
  configFile: string,
): Promise<{ source: string | undefined; file: string }> {
  const inConfig = config.chat_template;
  if (typeof inConfig === 'string') return { source: inConfig, file: configFile };
  if (Array.isArray(inConfig)) {
    const named = inConfig.find((t) => t?.name === 'default');
    return { source: typeof named?.template === 'string' ? named.template : undefined, file: configFile };
  }
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  const source = await readModelText(jinjaFile);
  return source === undefined ? { source: undefined, file: configFile } : { source, file: jinjaFile };
}

/** A special token entry is either its text or an AddedToken object with `content`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Parses a JSON object file; undefined when the file does not exist.
 * @throws ModelLoadError TOKENIZER_ERROR when it is not a JSON object; the codes of readModelText.
 */
async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  const text = await readModelText(file);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError('TOKENIZER_ERROR', `${file} is not valid JSON: ${(e as Error).message}`, file);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ModelLoadError('TOKENIZER_ERROR', `${file} must hold a JSON object`, file);
  }
  return value as Record<string, unknown>;
}
