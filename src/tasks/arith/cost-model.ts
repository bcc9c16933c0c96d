/**
 * Where the wall clock goes: a least-squares fit, over the problems of both models (same engine,
 * same run), of
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

export function fitCostModel(samples: readonly CostSample[]): CostModel {
  // Normal equations (XᵀX) β = Xᵀy for the columns [1, steps, tokens].
  const xtx = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const xty = [0, 0, 0];
  for (const s of samples) {
    const x = [1, s.criticalPathTokens, s.totalTokens];
    for (let i = 0; i < 3; i++) {
      xty[i] += x[i] * s.seconds;
      for (let j = 0; j < 3; j++) xtx[i][j] += x[i] * x[j];
    }
  }
  const [perRequest, perStep, perToken] = solve3(xtx, xty);
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

/** Gaussian elimination with partial pivoting; throws when the samples cannot separate the costs. */
function solve3(a: number[][], b: number[]): number[] {
  const m = a.map((row, i) => [...row, b[i]]);
  const scale = Math.max(...m.flat().map(Math.abs));
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) <= 1e-12 * scale) {
      throw new Error('cost model: steps and tokens move together in these samples (e.g. only sequential runs), so their costs cannot be told apart');
    }
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c < 4; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[3] / row[i]);
}
