/**
 * The native sampler (native/engine/sampling.cpp, behind src/engine/sampler.ts) against the
 * TypeScript sampler it replaced (test/support/reference-sampler.ts): the same token for the same
 * draws, the same logprobs and top-K, the same number of draws taken from the stream, and the
 * same errors, on random rows and settings chosen to hit ties, masked tokens and the exact edges
 * of the histogram's buckets.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/rng.js';
import { sampleToken, scoreToken, type SampledToken, type SamplingParams } from '../src/engine/sampler.js';
import { loadNative } from '../src/native/binding.js';
import * as reference from './support/reference-sampler.js';

const plain: SamplingParams = { temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, topLogprobs: 0 };

/** Row shapes: smooth random, integer logits (many ties), quarter-nat steps (bucket edges), masked tokens. */
function randomRow(rng: Rng, kind: number, vocab: number): Float32Array {
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) {
    const u = rng.nextFloat();
    if (kind === 0) row[i] = 20 * u - 10;
    else if (kind === 1) row[i] = Math.floor(6 * u);
    // Multiples of 1/8: at temperatures 0.5, 1 and 2 the distance below the maximum times 1/T is
    // an exact multiple of 1/4 nat, the width of a bucket, so tokens sit exactly on bucket edges.
    else if (kind === 2) row[i] = Math.floor(64 * u) / 8;
    else row[i] = u < 0.3 ? -Infinity : 4 * u;
  }
  return row;
}

function randomParams(rng: Rng, vocab: number): SamplingParams {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.nextFloat() * xs.length)];
  return {
    temperature: pick([0, 0.5, 1, 2, 0.7, 1.3]),
    topK: pick([0, 0, 1, 2, 5, 40, vocab - 1, vocab, vocab + 3]),
    topP: pick([1, 1, 0.9, 0.5, 0.25, 0.001, 0.999]),
    minP: pick([0, 0, 0.05, 0.25, 0.5, 1]),
    repetitionPenalty: pick([1, 1, 1.3, 0.8]),
    topLogprobs: pick([0, 1, 5, vocab, vocab + 2]),
  };
}

/** Equal up to the last bits exp and log may differ in (masked tokens' -Infinity exactly). */
const close = (a: number, b: number) => (Number.isFinite(b) ? Math.abs(a - b) < 1e-12 : a === b);

/** How `native` differs from `ref`, or '' (plain checks: thousands of expect() calls are slow). */
function difference(native: SampledToken, ref: SampledToken): string {
  if (native.token !== ref.token) return `token ${native.token} vs ${ref.token}`;
  if (!close(native.logprob, ref.logprob)) return `logprob ${native.logprob} vs ${ref.logprob}`;
  const ids = Object.keys(native.topLogprobs ?? {}).join();
  if (ids !== Object.keys(ref.topLogprobs ?? {}).join()) return `top ids ${ids} vs ${Object.keys(ref.topLogprobs ?? {}).join()}`;
  for (const [id, lp] of Object.entries(ref.topLogprobs ?? {})) {
    if (!close(native.topLogprobs![Number(id)], lp)) return `top logprob of ${id}: ${native.topLogprobs![Number(id)]} vs ${lp}`;
  }
  return '';
}

function expectSame(native: SampledToken, ref: SampledToken, what: string): void {
  expect(difference(native, ref), what).toBe('');
}

describe('native sampler against the TypeScript reference', () => {
  it('picks the same token, logprob and top-K from the same seed on 4000 random rows and settings', () => {
    const gen = Rng.fromSeed(2026);
    const failures: string[] = [];
    for (let trial = 0; trial < 4000; trial++) {
      const vocab = [1, 2, 7, 64, 515][trial % 5];
      const row = randomRow(gen, Math.floor(trial / 5) % 4, vocab);
      if (!row.some(Number.isFinite)) row[0] = 0;
      const params = randomParams(gen, vocab);
      const history = Array.from({ length: trial % 7 }, () => Math.floor(gen.nextFloat() * vocab));
      const seed = trial * 7919;
      const nativeRng = Rng.fromSeed(seed);
      const refRng = Rng.fromSeed(seed);
      const what = () => `trial ${trial}: vocab ${vocab}, ${JSON.stringify(params)}`;
      const differs = difference(sampleToken(row, params, nativeRng, history), reference.sampleToken(row, params, refRng, history));
      if (differs) failures.push(`${what()}: ${differs}`);
      // Both took the same number of draws (one unless greedy): the streams are still in step.
      else if (nativeRng.nextUint32() !== refRng.nextUint32()) failures.push(`${what()}: a different number of draws`);
    }
    expect(failures).toEqual([]);
  });

  it('agrees at the top-p and top-k cut-offs for draws at every kept boundary', () => {
    // Probabilities 1/2, 1/4, 1/8, 1/16, 1/16: top-p cuts and the inverse CDF both meet exact sums.
    const row = Float32Array.from([0.5, 0.25, 0.125, 0.0625, 0.0625].map(Math.log));
    for (const topP of [0.5, 0.75, 0.875, 0.9375, 1]) {
      for (const topK of [0, 3, 4]) {
        for (const u of [0, 0.25, 0.5, 0.75, 0.875, 0.9999999]) {
          const params = { ...plain, topP, topK };
          const fixed = { nextFloat: () => u };
          expectSame(sampleToken(row, params, fixed, []), reference.sampleToken(row, params, fixed, []), `topP ${topP} topK ${topK} u ${u}`);
        }
      }
    }
  });

  it('scores given tokens like the reference, top-K included', () => {
    const gen = Rng.fromSeed(5);
    for (let trial = 0; trial < 500; trial++) {
      const vocab = 1 + (trial % 97);
      const row = randomRow(gen, trial % 3, vocab);
      const token = Math.floor(gen.nextFloat() * vocab);
      const top = trial % 4 === 0 ? 0 : 1 + (trial % 9);
      expectSame(scoreToken(row, token, top), reference.scoreToken(row, token, top), `trial ${trial}`);
    }
  });

  it('fails where the reference fails, with the same message', () => {
    const row = Float32Array.from([1, 2, 3]);
    const cases: [Float32Array, SamplingParams, number[]][] = [
      [row, { ...plain, topP: 0 }, []],
      [row, { ...plain, temperature: NaN }, []],
      [row, { ...plain, topK: 1.5 }, []],
      [row, { ...plain, minP: 2 }, []],
      [row, { ...plain, repetitionPenalty: 0 }, []],
      [row, { ...plain, topLogprobs: -1 }, []],
      [row, { ...plain, repetitionPenalty: 1.2 }, [0, 3]],
      [row, { ...plain, repetitionPenalty: 1.2 }, [-1]],
      [Float32Array.from([1, NaN]), plain, []],
      [Float32Array.from([1, Infinity]), { ...plain, temperature: 0 }, []],
      [Float32Array.from([-Infinity, -Infinity]), plain, []],
    ];
    for (const [logits, params, history] of cases) {
      const message = (() => {
        try {
          reference.sampleToken(logits, params, Rng.fromSeed(1), history);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          return (e as Error).message;
        }
        throw new Error(`the reference accepted ${JSON.stringify(params)}`);
      })();
      expect(() => sampleToken(logits, params, Rng.fromSeed(1), history)).toThrow(new RangeError(message));
    }
    expect(() => scoreToken(row, 3)).toThrow(RangeError);
    expect(() => scoreToken(row, -1)).toThrow(RangeError);
  });

  it('the addon functions refuse malformed arguments with a RangeError, never a crash', () => {
    const native = loadNative();
    const row = Float32Array.from([1, 2, 3]);
    const params = Float64Array.from([1, 0, 1, 0, 1, 2]);
    const out = new Float64Array(6);
    const none = new Int32Array(0);
    const calls: [string, () => unknown][] = [
      ['row of the wrong type', () => native.sampleToken(Float64Array.from(row) as unknown as Float32Array, params, 0.5, none, out)],
      ['empty row', () => native.sampleToken(new Float32Array(0), params, 0.5, none, out)],
      ['params too short', () => native.sampleToken(row, params.subarray(0, 5), 0.5, none, out)],
      ['uniform of 1', () => native.sampleToken(row, params, 1, none, out)],
      ['uniform NaN', () => native.sampleToken(row, params, NaN, none, out)],
      ['out too short for 2 top logprobs', () => native.sampleToken(row, params, 0.5, none, new Float64Array(5))],
      ['history id past the row', () => native.sampleToken(row, Float64Array.from([1, 0, 1, 0, 2, 0]), 0.5, Int32Array.from([3]), out)],
      ['score of a token past the row', () => native.scoreToken(row, 3, 0, out)],
      ['score of a fractional token', () => native.scoreToken(row, 0.5, 0, out)],
      ['score with a NaN top count', () => native.scoreToken(row, 0, NaN, out)],
      ['missing arguments', () => (native.scoreToken as unknown as () => number)()],
    ];
    for (const [what, call] of calls) expect(call, what).toThrow(RangeError);
    // Still working afterwards: the sampled token and its logprob land in `out`.
    expect(native.sampleToken(row, Float64Array.from([0, 0, 1, 0, 1, 0]), 0, none, out)).toBe(0);
    expect(out[0]).toBe(2);
    expect(out[1]).toBeCloseTo(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), 12);
  });
});
