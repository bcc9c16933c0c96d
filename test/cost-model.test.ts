/** The wall-clock cost model: a least-squares fit checked against costs planted in synthetic runs. */
import { describe, expect, it } from 'vitest';
import { fitCostModel, predictSeconds, type CostSample } from '../src/tasks/arith/cost-model.js';

const PLANTED = { perRequest: 4e-4, perStep: 2.3e-4, perToken: 1.1e-4 };
const seconds = (steps: number, tokens: number) => PLANTED.perRequest + PLANTED.perStep * steps + PLANTED.perToken * tokens;

// Sequential runs (steps = tokens) and forked ones (more tokens than steps), as in an eval.
const SAMPLES: CostSample[] = [
  [40, 40],
  [150, 150],
  [90, 90],
  [80, 120],
  [110, 200],
  [60, 150],
].map(([steps, tokens]) => ({ criticalPathTokens: steps, totalTokens: tokens, seconds: seconds(steps, tokens) }));

describe('fitCostModel', () => {
  it('recovers the costs planted in noise-free samples', () => {
    const fit = fitCostModel(SAMPLES);
    expect(fit.perRequest).toBeCloseTo(PLANTED.perRequest, 10);
    expect(fit.perStep).toBeCloseTo(PLANTED.perStep, 10);
    expect(fit.perToken).toBeCloseTo(PLANTED.perToken, 10);
  });

  it('stays close to the planted costs when the samples carry a little noise', () => {
    const noisy = SAMPLES.map((s, i) => ({ ...s, seconds: s.seconds + (i % 2 ? 1e-6 : -1e-6) }));
    const fit = fitCostModel(noisy);
    expect(Math.abs(fit.perStep - PLANTED.perStep)).toBeLessThan(1e-7);
    expect(Math.abs(fit.perToken - PLANTED.perToken)).toBeLessThan(1e-7);
  });

  it('refuses samples whose steps and tokens move together (sequential runs only)', () => {
    expect(() => fitCostModel(SAMPLES.filter((s) => s.criticalPathTokens === s.totalTokens))).toThrow(/cannot be told apart/);
  });
});

describe('predictSeconds', () => {
  it('sums the per-request, per-step and per-token costs, or charges each step one token', () => {
    const model = { perRequest: 1, perStep: 0.5, perToken: 0.25 };
    const two = [
      { criticalPathTokens: 10, totalTokens: 20, seconds: 0 },
      { criticalPathTokens: 4, totalTokens: 4, seconds: 0 },
    ];
    // (1 + 5 + 5) + (1 + 2 + 1) = 15; one token a step: (1 + 5 + 2.5) + (1 + 2 + 1) = 12.5.
    expect(predictSeconds(model, two)).toBe(15);
    expect(predictSeconds(model, two, { extraPathsFree: true })).toBe(12.5);
  });
});
