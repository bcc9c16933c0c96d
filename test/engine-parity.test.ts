/**
 * Native logits against the dense float64 reference, for both architectures and all three weight
 * dtypes: prefill, token-by-token decode, and a ragged batch mixing both in one step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Architecture, WeightDtype } from '../src/model/config.js';
import { loadNative, type NativeEngine } from '../src/native/binding.js';
import { Prng } from '../src/testkit/prng.js';
import { denseForward } from './reference/dense-forward.js';
import { tinyModel } from './support/models.js';
import { causal, engineFor, expectLogitsClose, loadForReference, range, type Loaded } from './support/oracle.js';

/** Third field: parallelMinWork for the engine; 0 splits every loop across the threads (small test
 * models otherwise stay below the default threshold and run each loop on one thread). */
const CASES: [Architecture, WeightDtype, number | undefined][] = [
  ['qwen2', 'F32', undefined],
  ['qwen2', 'F16', undefined],
  ['qwen2', 'BF16', undefined],
  ['llama', 'F32', undefined],
  ['llama', 'F16', undefined],
  ['llama', 'BF16', undefined],
  ['qwen2', 'F32', 0],
  ['llama', 'BF16', 0],
];

function randomTokens(seed: number, n: number, vocab: number): number[] {
  const rng = new Prng(seed);
  return Array.from({ length: n }, () => Math.floor(rng.nextFloat() * vocab));
}

describe.each(CASES)('%s %s, parallelMinWork %s', (arch, dtype, parallelMinWork) => {
  let model: Loaded;
  let engine: NativeEngine;
  let vocab: number;
  const tokens = randomTokens(7, 21, 400);
  let reference: Float64Array[];

  beforeAll(async () => {
    model = await loadForReference(tinyModel(arch, dtype));
    engine = engineFor(model.checkpoint, 512, 'auto', parallelMinWork);
    vocab = model.checkpoint.config.vocabSize;
    reference = denseForward(model.checkpoint.config, model.weights, tokens, range(0, tokens.length), causal);
  });
  afterAll(() => engine.dispose());

  it('prefill: every position', async () => {
    const seq = engine.createSequence();
    const out = await engine.step([{ seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(0, tokens.length)), logits: 'all' }]);
    expectLogitsClose(out, reference, vocab);
    engine.release(seq);
  });

  it('decode: one token per step', async () => {
    const seq = engine.createSequence();
    for (let i = 0; i < tokens.length; i++) {
      const out = await engine.step([{ seq, tokens: Int32Array.of(tokens[i]), positions: Int32Array.of(i), logits: 'last' }]);
      expectLogitsClose(out, [reference[i]], vocab);
    }
    engine.release(seq);
  });

  it('ragged batch: a prefill chunk and decodes in one step', async () => {
    const a = engine.createSequence();
    const b = engine.createSequence();
    const other = randomTokens(8, 9, 400);
    const otherRef = denseForward(model.checkpoint.config, model.weights, other, range(0, other.length), causal);
    // b is mid-decode (8 tokens in) while a prefills its first 12 tokens; then both continue.
    await engine.step([{ seq: b, tokens: Int32Array.from(other.slice(0, 8)), positions: Int32Array.from(range(0, 8)), logits: 'none' }]);
    const out = await engine.step([
      { seq: a, tokens: Int32Array.from(tokens.slice(0, 12)), positions: Int32Array.from(range(0, 12)), logits: 'all' },
      { seq: b, tokens: Int32Array.of(other[8]), positions: Int32Array.of(8), logits: 'last' },
    ]);
    expectLogitsClose(out, [...reference.slice(0, 12), otherRef[8]], vocab);
    const next = await engine.step([
      { seq: b, tokens: Int32Array.of(other[0]), positions: Int32Array.of(9), logits: 'last' },
      { seq: a, tokens: Int32Array.from(tokens.slice(12)), positions: Int32Array.from(range(12, tokens.length)), logits: 'last' },
    ]);
    const bRef = denseForward(model.checkpoint.config, model.weights, [...other, other[0]], range(0, 10), causal);
    expectLogitsClose(next, [bRef[9], reference[tokens.length - 1]], vocab);
    engine.release(a);
    engine.release(b);
    engine.checkIntegrity();
    expect(engine.kvStats().freeSlots).toBe(engine.kvStats().totalSlots);
  });
});

describe('a step of several sequences on a small model (one forward per thread, each over its share)', () => {
  it('gives every sequence its own reference logits, whatever group it lands in', async () => {
    const model = await loadForReference(tinyModel('qwen2', 'F32'));
    const { config } = model.checkpoint;
    // Default parallelMinWork: every loop of these steps is small, so the engine splits the batch by sequence.
    const engine = engineFor(model.checkpoint, 512);
    const texts = [0, 1, 2, 3, 4].map((i) => randomTokens(20 + i, 6 + 3 * i, 400));
    const seqs = texts.map(() => engine.createSequence());
    // Contexts of different lengths first, then one step: a 3-token chunk and four single decodes.
    await engine.step(seqs.map((seq, i) => ({ seq, tokens: Int32Array.from(texts[i].slice(0, -3)), positions: Int32Array.from(range(0, texts[i].length - 3)), logits: 'none' as const })));
    const out = await engine.step(
      seqs.map((seq, i) => {
        const n = i === 2 ? 3 : 1;
        const from = texts[i].length - 3;
        return { seq, tokens: Int32Array.from(texts[i].slice(from, from + n)), positions: Int32Array.from(range(from, from + n)), logits: i === 2 ? ('all' as const) : ('last' as const) };
      }),
    );
    const expected = texts.flatMap((text, i) => {
      const from = text.length - 3;
      const ref = denseForward(config, model.weights, text.slice(0, from + (i === 2 ? 3 : 1)), range(0, from + (i === 2 ? 3 : 1)), causal);
      return i === 2 ? ref.slice(from) : [ref[from]];
    });
    expectLogitsClose(out, expected, config.vocabSize);
    for (const seq of seqs) engine.release(seq);
    engine.checkIntegrity();
    engine.dispose();
  });

  it('splits by work, not by rows: every lane count gives the bits of one forward over all 16 rows', async () => {
    const model = await loadForReference(tinyModel('qwen2', 'F32'));
    const { config } = model.checkpoint;
    // One long context among short ones, first or last, so the work-balanced shares hold different
    // numbers of rows (one lane may get the long row alone), and 16 rows at once.
    const lengths = [90, ...Array.from({ length: 14 }, (_, i) => 2 + i), 60];
    const texts = lengths.map((n, i) => randomTokens(40 + i, n + 1, 400));
    const decode = async (threads: number) => {
      const engine = new (loadNative().Engine)({ ...config, kvSlots: 1024, threads, kernels: 'auto', kvDtype: 'f32', tensors: model.checkpoint.tensors });
      const seqs = texts.map(() => engine.createSequence());
      await engine.step(seqs.map((seq, i) => ({ seq, tokens: Int32Array.from(texts[i].slice(0, -1)), positions: Int32Array.from(range(0, lengths[i])), logits: 'none' as const })));
      const out = await engine.step(seqs.map((seq, i) => ({ seq, tokens: Int32Array.of(texts[i][lengths[i]]), positions: Int32Array.of(lengths[i]), logits: 'last' as const })));
      engine.dispose();
      return out;
    };
    const one = await decode(1);
    const expected = texts.map((text) => denseForward(config, model.weights, text, range(0, text.length), causal).at(-1) as Float64Array);
    expectLogitsClose(one, expected, config.vocabSize);
    // Each row is computed on its own in any lane, so the bits cannot depend on the split.
    for (const threads of [2, 3, 5]) expect(await decode(threads)).toEqual(one);
  });
});

describe('portable kernels', () => {
  it('match the dense reference too', async () => {
    const model = await loadForReference(tinyModel('qwen2', 'F32'));
    const engine = engineFor(model.checkpoint, 64, 'portable');
    expect(engine.backend).toBe('cpu-portable');
    const tokens = randomTokens(9, 13, 400);
    const seq = engine.createSequence();
    const out = await engine.step([{ seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(0, tokens.length)), logits: 'all' }]);
    expectLogitsClose(out, denseForward(model.checkpoint.config, model.weights, tokens, range(0, tokens.length), causal), model.checkpoint.config.vocabSize);
    engine.dispose();
  });
});
