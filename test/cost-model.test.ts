/** The wall-clock cost model: a non-negative least-squares fit checked against costs planted in synthetic runs. */
import { describe, expect, it } from 'vitest';
import { fitCostModel, predictSeconds, type CostSample } from '../src/tasks/cost-model.js';

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

  it('holds a cost at zero rather than fit it negative, and the rest is the least-squares optimum (KKT)', () => {
    // Countdown-like runs: each model's problems nearly one length. The planted per-request cost is
    // negative, so the unconstrained fit would return it exactly.
    const negative = (steps: number, tokens: number) => -3e-3 + 2e-4 * steps + 5e-5 * tokens;
    const runs = [[450, 450], [462, 462], [441, 441], [150, 590], [157, 604], [149, 583]].map(([steps, tokens]) => ({
      criticalPathTokens: steps,
      totalTokens: tokens,
      seconds: negative(steps, tokens),
    }));
    const fit = fitCostModel(runs);
    expect(fit.perRequest).toBe(0);
    expect(fit.perStep).toBeGreaterThan(0);
    expect(fit.perToken).toBeGreaterThan(0);
    // Karush-Kuhn-Tucker conditions of min |y - Xβ|² over β >= 0: the gradient Xᵀ(y - Xβ) is zero
    // along every positive cost and points below zero along every cost held at zero.
    const beta = [fit.perRequest, fit.perStep, fit.perToken];
    const x = runs.map((r) => [1, r.criticalPathTokens, r.totalTokens]);
    const residual = runs.map((r, i) => r.seconds - x[i].reduce((sum, v, j) => sum + v * beta[j], 0));
    const gradient = [0, 1, 2].map((j) => x.reduce((sum, row, i) => sum + row[j] * residual[i], 0));
    expect(Math.abs(gradient[1])).toBeLessThan(1e-9);
    expect(Math.abs(gradient[2])).toBeLessThan(1e-9);
    expect(gradient[0]).toBeLessThan(0);
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
