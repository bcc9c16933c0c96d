/**
 * Bounded work before the engine: a prompt that cannot fit the context is refused from its byte
 * length before any encoding, and a large prompt is encoded in pieces that yield to the event loop,
 * with exactly the ids of one whole-text encode (the oracle: @huggingface/tokenizers on the whole
 * text). Nothing here measures time: yields are counted with setImmediate ticks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { GenerationError } from '../src/engine/errors.js';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import { createServer } from '../src/server/server.js';
import { loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { piecesBeforeSpaces } from '../src/model/encode-plan.js';
import { Prng } from '../src/testkit/prng.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mvrx-bounds-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Loads the project's tokenizer with tokenizer.json edited by `edit`. */
async function tokenizerWith(name: string, edit: (json: Record<string, unknown>) => void = () => {}): Promise<Tokenizer> {
  const files = buildTokenizerFiles(TINY.bpeVocabSize);
  const json = structuredClone(files.tokenizerJson) as Record<string, unknown>;
  edit(json);
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  writeTokenizerFiles(dir, { ...files, tokenizerJson: json });
  return loadTokenizer(dir);
}

/**
 * Seeded text that stresses the cut points: words, runs of spaces, tabs and newlines, digits,
 * contractions, punctuation, accents as combining marks (which NFC composes), Hangul jamo, emoji
 * (surrogate pairs) and Multiverse tags.
 */
function stressText(chars: number, seed: number): string {
  const rng = new Prng(seed);
  const parts = ['the', 'cat', "it's", "we'll", ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', ' \n', '12', '3456', '.', '!!', ', ', '(x)',
    'e\u0301', 'caf\u00e9', '\u1100\u1161\u11a8', 'ㄱㅏ', '😀', '<Path>', '</Path>', '<|im_end|>', 'Ω', ' \u00a0', 'a\u3000b'];
  let out = '';
  while (out.length < chars) out += parts[rng.nextU32() % parts.length];
  return out;
}

/** Counts setImmediate ticks while `work` runs: more than 0 means the event loop ran during it. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ result: T; ticks: number }> {
  let ticks = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  running = false;
  return { result, ticks };
}

describe('piecesBeforeSpaces', () => {
  it('cuts only before a space that follows a non-space, and the pieces rebuild the text', () => {
    const text = stressText(100_000, 1);
    const pieces = [...piecesBeforeSpaces(text, 1000)];
    expect(pieces.join('')).toBe(text);
    expect(pieces.length).toBeGreaterThan(50);
    for (const piece of pieces.slice(1)) {
      expect(piece[0]).toBe(' ');
    }
    for (const piece of pieces.slice(0, -1)) expect(piece.at(-1)).toMatch(/\S/u);
  });

  it('leaves text without such a space whole', () => {
    expect([...piecesBeforeSpaces('x'.repeat(5000), 100)]).toEqual(['x'.repeat(5000)]);
    expect([...piecesBeforeSpaces(' '.repeat(5000), 100)]).toEqual([' '.repeat(5000)]);
  });
});

describe('encodeYielding', () => {
  it.each([
    ['the project tokenizer (Qwen2 split, byte-level)', (): void => {}],
    ['with an NFC normalizer', (json: Record<string, unknown>) => (json.normalizer = { type: 'NFC' })],
    [
      "with GPT-2's ByteLevel pre-tokenizer",
      (json: Record<string, unknown>) => (json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true }),
    ],
  ])('%s: the ids of one whole encode, with the event loop run between pieces', async (name, edit) => {
    const tok = await tokenizerWith(name.replace(/\W+/g, '-'), edit);
    const text = stressText(50_000, 1);
    const whole = tok.encode(text, { addSpecialTokens: false });
    const { result, ticks } = await ticksDuring(() => tok.encodeYielding(text, { addSpecialTokens: false }));
    expect(result).toEqual(whole);
    // 50k characters are at least 3 pieces of 16k: the counter ran between them.
    expect(ticks).toBeGreaterThanOrEqual(2);
  });

  it('a pipeline it cannot prove cuttable (a Metaspace pre-tokenizer) is encoded whole, still exactly', async () => {
    const tok = await tokenizerWith('metaspace', (json) => (json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }));
    const text = stressText(20_000, 4);
    const encode = vi.spyOn(tok, 'encode');
    expect(await tok.encodeYielding(text, { addSpecialTokens: false })).toEqual(tok.encode(text, { addSpecialTokens: false }));
    expect(encode).toHaveBeenCalledTimes(2); // once inside encodeYielding, once here
  });

  it('stops after the piece that passes maxTokens', async () => {
    const tok = await tokenizerWith('limit');
    const text = stressText(60_000, 5);
    const all = tok.encode(text, { addSpecialTokens: false });
    const some = await tok.encodeYielding(text, { addSpecialTokens: false, maxTokens: 100 });
    expect(some.length).toBeGreaterThan(100);
    expect(some.length).toBeLessThan(all.length / 2);
    expect(some).toEqual(all.slice(0, some.length));
  });
});

describe('minTokens is a lower bound', () => {
  it('never exceeds the real token count, and is within the longest token of it for runs of that token', async () => {
    const tok = await tokenizerWith('bound');
    for (const seed of [6, 7]) {
      const text = stressText(10_000, seed);
      expect(tok.minTokens(text)).toBeGreaterThan(0);
      expect(tok.minTokens(text)).toBeLessThanOrEqual(tok.encode(text, { addSpecialTokens: false }).length);
    }
    // A run of the longest added tag: each costs one token and the bound counts at least one per 13 bytes.
    const tags = '</Conclusion>'.repeat(1000);
    expect(tok.encode(tags, { addSpecialTokens: false })).toHaveLength(1000);
    expect(tok.minTokens(tags)).toBeLessThanOrEqual(1000);
    expect(tok.minTokens(tags)).toBeGreaterThanOrEqual(900);
  });

  it('is 0 (no bound) when the normalizer can delete text or an added token strips spaces', async () => {
    const replace = await tokenizerWith('replace', (json) => (json.normalizer = { type: 'Replace', pattern: { String: ' ' }, content: '' }));
    expect(replace.minTokens('a '.repeat(1000))).toBe(0);
    const strip = await tokenizerWith('strip', (json) => {
      (json.added_tokens as { rstrip: boolean }[])[0].rstrip = true;
    });
    expect(strip.minTokens('a '.repeat(1000))).toBe(0);
  });
});

describe('prompts that cannot fit the shipped model (context 1024)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel('models/multiverse-arith', { threads: 1 });
  });
  afterAll(() => model.dispose());

  const megabyte = 'Compute 12*3 + 4*5, please. '.repeat(40_000);

  it('a 1 MB prompt fails CONTEXT_OVERFLOW before the tokenizer runs, chat and raw alike', async () => {
    const encode = vi.spyOn(model.tokenizer, 'encode');
    const encodeYielding = vi.spyOn(model.tokenizer, 'encodeYielding');
    for (const input of [megabyte, [{ role: 'user', content: megabyte }]]) {
      for (const raw of [false, true]) {
        const err = await lastValueFrom(model.events(input, { raw, maxTokens: 4 })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GenerationError);
        expect((err as GenerationError).code).toBe('CONTEXT_OVERFLOW');
        expect((err as Error).message).toMatch(/bytes of text, at least \d+ tokens; at most 1023 fit a context of 1024 positions/);
      }
    }
    expect(encode).not.toHaveBeenCalled();
    expect(encodeYielding).not.toHaveBeenCalled();
    encode.mockRestore();
    encodeYielding.mockRestore();
    expect(model.kvStats().freeSlots).toBe(model.kvStats().totalSlots);
  });

  it('over HTTP it is a 400 context_length_exceeded, over WebSocket an error event CONTEXT_OVERFLOW', async () => {
    const server = createServer(model, { port: 0 });
    const { url } = await server.listen();
    try {
      const prompt = megabyte.slice(0, 900_000); // under the 1 MiB body limit
      const res = await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'multiverse-arith', prompt, max_tokens: 4 }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('context_length_exceeded');

      const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const reply = new Promise<{ type: string; code: string; id: string }>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
      ws.send(JSON.stringify({ type: 'generate', id: 'big', input: prompt, options: { maxTokens: 4 } }));
      expect(await reply).toMatchObject({ type: 'error', code: 'CONTEXT_OVERFLOW', id: 'big' });
      ws.close();
    } finally {
      await server.close();
    }
  });

  it('a prompt under the byte bound but over the context is counted, and fails the same way', async () => {
    // Digits encode one token each, so 2000 of them pass the byte bound but not the context.
    const err = await lastValueFrom(model.events('7'.repeat(2000), { raw: true, maxTokens: 4 })).catch((e: unknown) => e);
    expect((err as GenerationError).code).toBe('CONTEXT_OVERFLOW');
    expect((err as Error).message).toMatch(/^prompt of at least 2000 tokens leaves no room in a context of 1024 positions$/);
  });
});
