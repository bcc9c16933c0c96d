/**
 * Where the wall clock goes: a least-squares fit with no negative cost, over the problems of both
 * models (same engine, same run), of
 *
 *   seconds ≈ perRequest + perStep · criticalPathTokens + perToken · totalTokens
 *
 * A decode step costs `perStep` however many paths it advances (the scheduler's turn, the native
 * call, waking the threads); each token written adds `perToken` (the model's arithmetic for one
 * row, sampling, the event stream). Multiverse takes fewer steps but writes more tokens, so the
 * two fitted costs say how much forking can gain on this machine.
 */

export interface CostSample {
  criticalPathTokens: number;
  totalTokens: number;
  seconds: number;
}

/** Fitted costs, in seconds. */
export interface CostModel {
  perRequest: number;
  perStep: number;
  perToken: number;
}

/**
 * The least-squares costs, none negative: a cost is time, and a fit over problems of nearly one
 * length per model (Countdown's) can trade a negative per-request cost against the other two. The
 * unconstrained fit when it is non-negative; else the best fit with some costs held at zero (with
 * three costs, trying every subset is the exact non-negative least squares).
 * @throws Error when steps and tokens move together in every sample (sequential runs only).
 */
export function fitCostModel(samples: readonly CostSample[]): CostModel {
  const rows = samples.map((s) => ({ x: [1, s.criticalPathTokens, s.totalTokens], y: s.seconds }));
  const full = leastSquares(rows, [0, 1, 2]);
  if (!full) throw new Error('cost model: steps and tokens move together in these samples (e.g. only sequential runs), so their costs cannot be told apart');
  let best = full;
  if (full.some((c) => c < 0)) {
    let bestResidual = Infinity;
    for (const columns of [[0, 1], [0, 2], [1, 2], [0], [1], [2]]) {
      const fit = leastSquares(rows, columns);
      if (!fit || fit.some((c) => c < 0)) continue;
      const residual = rows.reduce((sum, r) => sum + (r.y - r.x.reduce((a, x, i) => a + x * fit[i], 0)) ** 2, 0);
      if (residual < bestResidual) [best, bestResidual] = [fit, residual];
    }
  }
  const [perRequest, perStep, perToken] = best;
  return { perRequest, perStep, perToken };
}

/**
 * Predicted seconds for `samples` under `model`. With `extraPathsFree`, a step is charged one token
 * however many paths it advances: the time of ideally parallel hardware, a ceiling for forking.
 */
export function predictSeconds(model: CostModel, samples: readonly CostSample[], options: { extraPathsFree?: boolean } = {}): number {
  const tokens = (s: CostSample) => (options.extraPathsFree ? s.criticalPathTokens : s.totalTokens);
  return samples.reduce((sum, s) => sum + model.perRequest + model.perStep * s.criticalPathTokens + model.perToken * tokens(s), 0);
}

/**
 * The least-squares coefficients of the given columns (the others held at 0), all three returned;
 * undefined when those columns cannot be told apart in the samples.
 */
function leastSquares(rows: readonly { x: number[]; y: number }[], columns: readonly number[]): number[] | undefined {
  // Normal equations (XᵀX) β = Xᵀy over the chosen columns.
  const a = columns.map((i) => columns.map((j) => rows.reduce((sum, r) => sum + r.x[i] * r.x[j], 0)));
  const b = columns.map((i) => rows.reduce((sum, r) => sum + r.x[i] * r.y, 0));
  const beta = solve(a, b);
  if (!beta) return undefined;
  const out = [0, 0, 0];
  columns.forEach((c, k) => (out[c] = beta[k]));
  return out;
}

/** Gaussian elimination with partial pivoting; undefined for a singular system. */
function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  const scale = Math.max(...m.flat().map(Math.abs));
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) <= 1e-12 * scale) return undefined;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}
