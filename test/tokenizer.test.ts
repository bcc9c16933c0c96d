import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedModelDir } from '../src/facade/shipped-models.js';
import { StreamingDetokenizer } from '../src/model/detokenizer.js';
import { ModelLoadError } from '../src/model/errors.js';
import { loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { tagModeOf } from '../src/multiverse/tag-scanner.js';
import { MULTIVERSE_TAGS } from '../src/multiverse/tags.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles, type TokenizerFiles } from '../src/testkit/tokenizer-files.js';

const BPE_SIZE = TINY.bpeVocabSize; // 481: ids 0-480 are BPE, 481-495 the added tokens
let root: string;
let files: TokenizerFiles;
let tok: Tokenizer;

/** A model folder holding the given tokenizer files (either may be replaced by raw text). */
function folder(name: string, json: unknown, config?: unknown): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  const write = (file: string, v: unknown) =>
    fs.writeFileSync(path.join(dir, file), typeof v === 'string' ? v : JSON.stringify(v));
  if (json !== undefined) write('tokenizer.json', json);
  if (config !== undefined) write('tokenizer_config.json', config);
  return dir;
}

async function loadError(dir: string): Promise<ModelLoadError> {
  const error = await loadTokenizer(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelLoadError);
  return error as ModelLoadError;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-tokenizer-'));
  files = buildTokenizerFiles(BPE_SIZE);
  const dir = path.join(root, 'model');
  fs.mkdirSync(dir);
  writeTokenizerFiles(dir, files);
  tok = await loadTokenizer(dir);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('loadTokenizer on the test tokenizer', () => {
  it('round-trips ASCII, digits, punctuation and whitespace', () => {
    const text = "The kitchen's kettle hums.\n  37*4 = 148, (3+5)*2 = 16;\tdone!\n\n";
    const ids = tok.encode(text);
    expect(ids.length).toBeLessThan(Buffer.byteLength(text)); // trained merges are in use
    expect(tok.decode(ids)).toBe(text);
  });

  it('round-trips multi-byte text: accents, CJK, emoji, combining marks', () => {
    for (const text of ['naïve café', '你好，世界', 'fox 🦊 rocket 🚀 family 👨‍👩‍👧', 'e\u0301 Ünïcödé ß', 'ﬁ ½ €']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('maps single bytes to ids 0-255 and splits digits one by one', () => {
    // Digits never merge (the Qwen2 split isolates each), so "1024" is its four ASCII bytes.
    expect(tok.encode('1024')).toEqual([0x31, 0x30, 0x32, 0x34]);
    // An emoji absent from the corpus falls back to its UTF-8 bytes.
    expect(tok.encode('🦊')).toEqual([0xf0, 0x9f, 0xa6, 0x8a]);
    // " the" is among the first merges of any English corpus: one token.
    expect(tok.encode(' the')).toHaveLength(1);
    expect(tok.idToText(tok.encode(' the')[0])).toBe(' the');
  });

  it('encodes each Multiverse tag as one added token that decodes back', () => {
    const mode = tagModeOf(tok);
    expect(mode.kind).toBe('ids');
    MULTIVERSE_TAGS.forEach((tag, i) => {
      const id = BPE_SIZE + 3 + i;
      expect(tok.encode(tag)).toEqual([id]);
      expect(mode.kind === 'ids' && mode.idOf[tag]).toBe(id);
      expect(tok.tokenId(tag)).toBe(id);
      expect(tok.decode([id])).toBe(tag);
    });
    const text = '<Parallel><Goal><Outline>1: sum</Outline></Goal><Path>1: 7*8 = 56</Path></Parallel>';
    const ids = tok.encode(text);
    expect(ids.filter((id) => id >= BPE_SIZE)).toHaveLength(8);
    expect(tok.decode(ids)).toBe(text);
  });

  it('knows the special tokens, eos and vocab size', () => {
    expect(tok.tokenId('<|endoftext|>')).toBe(BPE_SIZE);
    expect(tok.tokenId('<|im_start|>')).toBe(BPE_SIZE + 1);
    expect(tok.tokenId('<|im_end|>')).toBe(BPE_SIZE + 2);
    expect(tok.tokenId('the')).toBeUndefined(); // a BPE token, not an added one
    expect(tok.eosTokenIds).toEqual([BPE_SIZE + 2]);
    expect(tok.vocabSize).toBe(BPE_SIZE + 15);
    expect(files.size).toBe(BPE_SIZE + 15);
  });

  it('decodes [] and skips ids that name no token (model vocab padding)', () => {
    expect(tok.decode([])).toBe('');
    expect(tok.decode([0x68, 500, 0x69])).toBe('hi');
    expect(tok.idToText(500)).toBe('');
  });

  it('renders the ChatML template exactly', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is 37*4?' },
    ];
    const chat = '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 37*4?<|im_end|>\n';
    expect(tok.applyChatTemplate(messages)).toBe(chat);
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(chat + '<|im_start|>assistant\n');
    const ids = tok.encode(chat, { addSpecialTokens: false });
    expect(ids.filter((id) => id === BPE_SIZE + 1)).toHaveLength(2);
    expect(ids.filter((id) => id === BPE_SIZE + 2)).toHaveLength(2);
  });
});

describe('loadTokenizer errors', () => {
  it('names a missing tokenizer.json', async () => {
    const e = await loadError(folder('missing', undefined, files.tokenizerConfig));
    expect(e.code).toBe('TOKENIZER_ERROR');
    expect(e.file).toMatch(/tokenizer\.json$/);
    expect(e.message).toMatch(/tokenizer\.json/);
  });

  it('names a tokenizer.json that is not JSON, or not a tokenizer', async () => {
    const bad = await loadError(folder('not-json', '{"model": ', files.tokenizerConfig));
    expect(bad.code).toBe('TOKENIZER_ERROR');
    expect(bad.file).toMatch(/tokenizer\.json$/);
    const wrong = await loadError(folder('not-tokenizer', { hello: 1 }, files.tokenizerConfig));
    expect(wrong.code).toBe('TOKENIZER_ERROR');
    expect(wrong.file).toMatch(/tokenizer\.json$/);
  });

  it('loads without a chat template but refuses to apply one', async () => {
    const { chat_template: _, ...config } = files.tokenizerConfig;
    const t = await loadTokenizer(folder('no-template', files.tokenizerJson, config));
    expect(t.decode(t.encode('plain text'))).toBe('plain text');
    let error: unknown;
    try {
      t.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as ModelLoadError).code).toBe('TOKENIZER_ERROR');
    expect((error as ModelLoadError).message).toMatch(/tokenizer_config\.json has no chat_template/);
  });

  it('reports no Multiverse tags when they are not added tokens', async () => {
    const json = files.tokenizerJson as { added_tokens: { content: string }[] };
    const withoutTags = { ...json, added_tokens: json.added_tokens.slice(0, 3) };
    const t = await loadTokenizer(folder('no-tags', withoutTags, files.tokenizerConfig));
    expect(tagModeOf(t).kind).toBe('text');
    expect(t.tokenId('<Path>')).toBeUndefined();
    expect(t.decode(t.encode('<Path>'))).toBe('<Path>');
    expect(t.encode('<Path>').length).toBeGreaterThan(1);
  });
});

describe('StreamingDetokenizer', () => {
  function stream(ids: number[]): string[] {
    const detok = new StreamingDetokenizer(tok);
    return [...ids.map((id) => detok.push(id)), detok.flush()];
  }

  it('emits exactly the text, never a replacement character', () => {
    const text = 'Café 🦊 and 你好: <Think>37*4 = 148</Think> ﬁne 👨‍👩‍👧!';
    const pieces = stream(tok.encode(text));
    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
  });

  it('holds back the bytes of a split character until it is complete', () => {
    // '🦊' is four byte tokens (see above): nothing can be shown before the last one.
    expect(stream([0x61, 0xf0, 0x9f, 0xa6, 0x8a, 0x62])).toEqual(['a', '', '', '', '🦊', 'b', '']);
  });

  it('flushes an incomplete character as U+FFFD', () => {
    const detok = new StreamingDetokenizer(tok);
    expect(detok.push(0x61)).toBe('a');
    expect(detok.push(0xf0)).toBe('');
    expect(detok.push(0x9f)).toBe('');
    expect(detok.flush()).toBe('\uFFFD');
    expect(detok.push(0x62)).toBe('b'); // starts over after a flush
  });

  it('decodes once per token (plus one restart of its window every few tokens)', () => {
    let decodes = 0;
    const counting = { decode: (ids: number[], options?: { skipSpecialTokens?: boolean }) => (decodes++, tok.decode(ids, options)) };
    const ids = tok.encode('The quick brown fox jumps over the lazy dog. '.repeat(10));
    const detok = new StreamingDetokenizer(counting);
    const text = ids.map((id) => detok.push(id)).join('') + detok.flush();
    expect(text).toBe(tok.decode(ids));
    expect(decodes).toBeLessThanOrEqual(Math.ceil(ids.length * (1 + 1 / 7)) + 1);
  });

  it('gives the same pieces on the byte-level path as through the window over decode()', async () => {
    // The window over the tokenizer's own decode is the reference; random streams of split
    // characters, invalid bytes, special tokens (inside a character too), tags and ordinary tokens.
    const shipped = await loadTokenizer(shippedModelDir('multiverse-arith'));
    for (const t of [tok, shipped]) {
      expect(t.byteLevelPieces).toBeDefined();
      const added = [...Array(t.vocabSize).keys()].filter((id) => t.idToText(id) !== '' && t.tokenId(t.idToText(id)) === id);
      let state = 12345;
      // xorshift32: a fixed, well-spread stream of choices.
      const next = (n: number) => {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        return (state >>> 0) % n;
      };
      for (let s = 0; s < 300; s++) {
        const ids = Array.from({ length: 1 + next(30) }, () => {
          const kind = next(8);
          if (kind < 3) return 0x80 + next(0x80); // a lone continuation or lead byte
          if (kind === 3) return added[next(added.length)];
          return next(t.vocabSize + 2); // ordinary, and now and then no token at all
        });
        const fast = new StreamingDetokenizer(t);
        const window = new StreamingDetokenizer({ decode: (x, o) => t.decode(x, o) });
        const run = (d: StreamingDetokenizer) => [...ids.map((id) => d.push(id)), d.flush()];
        expect(run(fast), `ids ${ids}`).toEqual(run(window));
      }
    }
  });

  it('has no byte-level path when decode is more than UTF-8 over the bytes', async () => {
    const cleaning = await loadTokenizer(folder('cleanup', files.tokenizerJson, { ...files.tokenizerConfig, clean_up_tokenization_spaces: true }));
    expect(cleaning.byteLevelPieces).toBeUndefined();
    const metaspace = await loadTokenizer(folder('metaspace', { ...files.tokenizerJson, decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' } }, files.tokenizerConfig));
    expect(metaspace.byteLevelPieces).toBeUndefined();
  });

  it('keeps a context-dependent decoder right across restarts of its window', () => {
    // SentencePiece-style: '▁' is a space, except that a decode drops its leading one.
    const words = ['▁one', '▁two', '▁three', 'teen', '▁four'];
    const spm = { decode: (ids: number[]) => ids.map((id) => words[id]).join('').replace(/▁/g, ' ').replace(/^ /, '') };
    const ids = Array.from({ length: 40 }, (_, i) => (i * 7) % words.length);
    const detok = new StreamingDetokenizer(spm);
    expect(ids.map((id) => detok.push(id)).join('') + detok.flush()).toBe(spm.decode(ids));
  });
});
