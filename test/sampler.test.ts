import { describe, expect, it } from 'vitest';
import { Rng } from '../src/engine/rng.js';
import { sampleToken, type RandomSource, type SamplingParams } from '../src/engine/sampler.js';
import { applyRepetitionPenalty } from './support/reference-sampler.js';
import { StopMatcher } from '../src/engine/stop.js';

const plain: SamplingParams = { temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, topLogprobs: 0 };
const greedy: SamplingParams = { ...plain, temperature: 0 };

/** A source that always returns `u`: it picks the token where the kept tokens' CDF crosses u. */
const fixed = (u: number): RandomSource => ({ nextFloat: () => u });
const noDraws: RandomSource = {
  nextFloat: () => {
    throw new Error('greedy must not draw');
  },
};
const logitsOfProbs = (probs: number[]) => Float32Array.from(probs.map(Math.log));

/** Counts of `draws` samples, and Pearson's chi-square against `expected` probabilities (by token id). */
function chiSquare(logits: Float32Array, params: SamplingParams, expected: Record<number, number>, draws: number) {
  const rng = Rng.fromSeed(1234);
  const counts: Record<number, number> = {};
  for (let i = 0; i < draws; i++) {
    const { token } = sampleToken(logits, params, rng, []);
    counts[token] = (counts[token] ?? 0) + 1;
  }
  let chi2 = 0;
  for (const [id, p] of Object.entries(expected)) chi2 += ((counts[Number(id)] ?? 0) - draws * p) ** 2 / (draws * p);
  return { seen: Object.keys(counts).map(Number).sort(), chi2 };
}

describe('sampleToken', () => {
  it('greedy picks the maximum (lowest id on ties) without drawing, and reports its raw logprob', () => {
    const { token, logprob } = sampleToken(Float32Array.from([1, 3, 2, 3]), greedy, noDraws, []);
    expect(token).toBe(1);
    expect(logprob).toBeCloseTo(3 - Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(2)), 12);
  });

  it('top-k = 1 equals greedy', () => {
    const rng = Rng.fromSeed(5);
    for (let row = 0; row < 20; row++) {
      const logits = Float32Array.from({ length: 1000 }, () => 8 * rng.nextFloat());
      expect(sampleToken(logits, { ...plain, topK: 1 }, rng, []).token).toBe(sampleToken(logits, greedy, noDraws, []).token);
    }
  });

  it('logprobs are the log-softmax of the raw logits, whatever the temperature and filters', () => {
    // [2, 1, 0, -1]: log-softmax = l - log(e^2 + e^1 + e^0 + e^-1).
    const lse = Math.log(Math.exp(2) + Math.exp(1) + 1 + Math.exp(-1));
    const logits = Float32Array.from([2, 1, 0, -1]);
    const all = sampleToken(logits, { ...plain, topLogprobs: 4 }, fixed(0), []);
    expect(all.token).toBe(0);
    expect(all.logprob).toBeCloseTo(2 - lse, 12);
    expect(Object.keys(all.topLogprobs!).map(Number)).toEqual([0, 1, 2, 3]);
    [2, 1, 0, -1].forEach((l, id) => expect(all.topLogprobs![id]).toBeCloseTo(l - lse, 12));

    const filtered = sampleToken(logits, { ...plain, temperature: 0.5, topK: 2, topLogprobs: 2 }, fixed(0.99999), []);
    expect(filtered.token).toBe(1);
    expect(filtered.logprob).toBeCloseTo(1 - lse, 12);
    expect(Object.keys(filtered.topLogprobs!).map(Number)).toEqual([0, 1]);
  });

  it('temperature scales the logits: probabilities follow softmax(l / T)', () => {
    const weights = [2, 1, 0, -1].map((l) => Math.exp(l / 2));
    const total = weights.reduce((a, b) => a + b);
    const expected = Object.fromEntries(weights.map((w, i) => [i, w / total]));
    const { seen, chi2 } = chiSquare(Float32Array.from([2, 1, 0, -1]), { ...plain, temperature: 2 }, expected, 8000);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(chi2).toBeLessThan(20); // 3 degrees of freedom: p < 0.0002 to fail by chance
  });

  it('top-p 0.5 keeps the smallest most-likely set reaching half the mass, renormalised', () => {
    // Probabilities [0.1, 0.4, 0.2, 0.3]: 0.4 alone is short of 0.5, 0.4 + 0.3 reaches it: keep {1, 3}.
    const logits = logitsOfProbs([0.1, 0.4, 0.2, 0.3]);
    const params = { ...plain, topP: 0.5 };
    const { seen, chi2 } = chiSquare(logits, params, { 1: 4 / 7, 3: 3 / 7 }, 7000);
    expect(seen).toEqual([1, 3]);
    expect(chi2).toBeLessThan(15); // 1 degree of freedom
    // The kept tokens are walked most likely first: u just under 4/7 and just over.
    expect(sampleToken(logits, params, fixed(0.57), []).token).toBe(1);
    expect(sampleToken(logits, params, fixed(0.58), []).token).toBe(3);
    expect(sampleToken(logits, params, fixed(0.999999), []).token).toBe(3);
  });

  it('top-p measures mass within the top-k set (top-k first)', () => {
    // [0.4, 0.3, 0.2, 0.1], top-k 3 → [4/9, 3/9, 2/9]; 4/9 + 3/9 = 0.78 reaches 0.75: keep {0, 1}.
    // (Top-p over the full distribution would keep token 2 too: 0.4 + 0.3 = 0.7 < 0.75.)
    const logits = logitsOfProbs([0.4, 0.3, 0.2, 0.1]);
    expect(sampleToken(logits, { ...plain, topK: 3, topP: 0.75 }, fixed(0.999999), []).token).toBe(1);
    expect(sampleToken(logits, { ...plain, topP: 0.75 }, fixed(0.999999), []).token).toBe(2);
  });

  it('top-k keeps every token tied with the k-th', () => {
    const logits = Float32Array.from([3, 1, 1, 0]);
    expect(sampleToken(logits, { ...plain, topK: 2 }, fixed(0.999999), []).token).toBe(2);
    const { seen } = chiSquare(logits, { ...plain, topK: 2 }, {}, 2000);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('min-p keeps tokens at least minP times as likely as the top one', () => {
    // [0.5, 0.3, 0.15, 0.05], min-p 0.25: threshold 0.125 keeps {0, 1, 2}, renormalised by 0.95.
    const logits = logitsOfProbs([0.5, 0.3, 0.15, 0.05]);
    const { seen, chi2 } = chiSquare(logits, { ...plain, minP: 0.25 }, { 0: 0.5 / 0.95, 1: 0.3 / 0.95, 2: 0.15 / 0.95 }, 8000);
    expect(seen).toEqual([0, 1, 2]);
    expect(chi2).toBeLessThan(20);
  });

  it('on a large vocab, the kept set and its CDF equal a naive sort-everything reference', () => {
    const rng = Rng.fromSeed(99);
    const logits = Float32Array.from({ length: 50_000 }, () => 12 * (rng.nextFloat() + rng.nextFloat() + rng.nextFloat()));
    for (const params of [
      { ...plain, temperature: 0.7, topP: 0.9 },
      { ...plain, temperature: 1.3, topK: 40, topP: 0.8 },
      { ...plain, temperature: 1, minP: 0.02 },
      { ...plain, temperature: 1.5, topK: 500, minP: 0.1 },
    ]) {
      // Reference: sort all ids by logit, then top-k, top-p, min-p in that order.
      const ids = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b);
      const w = ids.map((id) => Math.exp((logits[id] - logits[ids[0]]) / params.temperature));
      let kept = params.topK > 0 ? params.topK : ids.length;
      const mass = w.slice(0, kept).reduce((a, b) => a + b);
      let above = 0;
      for (let i = 0; i < kept && params.topP < 1; i++) {
        if (above >= params.topP * mass) kept = i;
        above += w[i];
      }
      const minPCut = w.findIndex((x) => x < params.minP);
      if (minPCut >= 0) kept = Math.min(kept, minPCut);
      const keptMass = w.slice(0, kept).reduce((a, b) => a + b);
      const inverseCdf = (u: number) => {
        let acc = 0;
        return ids[w.findIndex((x, i) => i < kept && (acc += x) > u * keptMass)];
      };
      expect(kept).toBeGreaterThan(1);
      for (const u of [0, 0.1, 0.37, 0.5, 0.81, 0.99]) expect(sampleToken(logits, params, fixed(u), []).token).toBe(inverseCdf(u));
      expect(sampleToken(logits, params, fixed(1 - 1e-15), []).token).toBe(ids[kept - 1]);
    }
  });

  it('the repetition penalty divides positive and multiplies negative logits of history tokens, once each', () => {
    const penalised = applyRepetitionPenalty(Float32Array.from([2, -1, 0.5, 3]), [0, 1, 1], 2);
    expect([...penalised]).toEqual([1, -2, 0.5, 3]);
    // It applies before greedy, while the reported logprob stays raw.
    const pos = sampleToken(Float32Array.from([2, 1.5]), { ...greedy, repetitionPenalty: 2 }, noDraws, [0]);
    expect(pos.token).toBe(1);
    expect(pos.logprob).toBeCloseTo(1.5 - Math.log(Math.exp(2) + Math.exp(1.5)), 12);
    expect(sampleToken(Float32Array.from([-1, -1.5]), { ...greedy, repetitionPenalty: 2 }, noDraws, [0]).token).toBe(1);
  });

  it('rejects bad params, history ids and logits', () => {
    const logits = Float32Array.from([1, 2]);
    expect(() => sampleToken(logits, { ...plain, topP: 0 }, fixed(0), [])).toThrow(/topP/);
    expect(() => sampleToken(logits, { ...plain, temperature: -1 }, fixed(0), [])).toThrow(/temperature/);
    expect(() => sampleToken(logits, { ...plain, topK: 1.5 }, fixed(0), [])).toThrow(/topK/);
    expect(() => sampleToken(logits, { ...plain, repetitionPenalty: 1.2 }, fixed(0), [2])).toThrow(/history token 2/);
    expect(() => sampleToken(Float32Array.from([1, NaN]), plain, fixed(0), [])).toThrow(/NaN/);
  });
});

describe('Rng', () => {
  const draw = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.nextUint32());

  it('matches an independent C implementation of splitmix32-seeded xoshiro128**', () => {
    expect(draw(Rng.fromSeed(42), 4)).toEqual([2837322924, 1845794875, 4029291681, 3817951708]);
    expect(draw(Rng.fromSeed(42).derive(1), 4)).toEqual([3727503161, 1017760703, 134796176, 4286348168]);
    expect(draw(Rng.fromSeed(-5).derive(7).derive(3), 4)).toEqual([3465120245, 3890518892, 3880763558, 1734176124]);
  });

  it('the same seed gives the same sampled sequence', () => {
    const logits = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i));
    const run = () => {
      const rng = Rng.fromSeed(2024);
      return Array.from({ length: 50 }, () => sampleToken(logits, plain, rng, []).token);
    };
    expect(run()).toEqual(run());
  });

  it('child streams are reproducible, differ from each other, and ignore what the parent drew', () => {
    const parent = Rng.fromSeed(7);
    const first0 = draw(parent.derive(0), 8);
    const first1 = draw(parent.derive(1), 8);
    draw(parent, 100);
    expect(draw(parent.derive(0), 8)).toEqual(first0);
    expect(draw(Rng.fromSeed(7).derive(1), 8)).toEqual(first1);
    expect(first0).not.toEqual(first1);
    expect(first0).not.toEqual(draw(Rng.fromSeed(7), 8));
    expect(draw(parent.derive(0).derive(1), 8)).not.toEqual(draw(parent.derive(1).derive(0), 8));
  });

  it('nextFloat is uniform in [0, 1)', () => {
    const rng = Rng.fromSeed(3);
    const xs = Array.from({ length: 20_000 }, () => rng.nextFloat());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(xs.reduce((a, b) => a + b) / xs.length - 0.5)).toBeLessThan(0.01);
  });

  it('rejects seeds and stream indices it cannot represent', () => {
    expect(() => Rng.fromSeed(0.5)).toThrow(RangeError);
    expect(() => Rng.fromSeed(2 ** 60)).toThrow(RangeError);
    expect(() => Rng.fromSeed(1).derive(-1)).toThrow(RangeError);
  });
});

describe('StopMatcher', () => {
  it('catches a stop split across pushes and emits nothing of it, nor anything after', () => {
    const m = new StopMatcher(['STOP']);
    expect(m.push('hello ST')).toEqual({ emit: 'hello ', stopped: false });
    expect(m.push('OP world')).toEqual({ emit: '', stopped: true });
    expect(m.push('more')).toEqual({ emit: '', stopped: true });
    expect(m.flush()).toBe('');
  });

  it('emits a held-back prefix once it turns out not to be a stop', () => {
    const m = new StopMatcher(['STOP']);
    expect(m.push('The ST')).toEqual({ emit: 'The ', stopped: false });
    expect(m.push('ART')).toEqual({ emit: 'START', stopped: false });
    expect(m.push(' S')).toEqual({ emit: ' ', stopped: false });
    expect(m.flush()).toBe('S');
  });

  it('handles several stop strings, each held back while it may still complete', () => {
    const m = new StopMatcher(['\n\n', 'END']);
    expect(m.push('a\nb')).toEqual({ emit: 'a\nb', stopped: false });
    expect(m.push('c\n')).toEqual({ emit: 'c', stopped: false });
    expect(m.push('E')).toEqual({ emit: '\n', stopped: false });
    expect(m.push('ND and more')).toEqual({ emit: '', stopped: true });
  });

  it('when two stops complete in one push, the one starting first wins', () => {
    expect(new StopMatcher(['world', 'lo w']).push('hello world')).toEqual({ emit: 'hel', stopped: true });
  });

  it('passes text through without stops, and rejects an empty stop', () => {
    const m = new StopMatcher([]);
    expect(m.push('anything')).toEqual({ emit: 'anything', stopped: false });
    expect(() => new StopMatcher([''])).toThrow(RangeError);
  });
});
