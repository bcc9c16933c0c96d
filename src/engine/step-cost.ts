/**
 * What one decode step costs this engine as it carries more rows (one new token for each of that
 * many sequences, at a short context): the curve that says how many parallel paths are nearly
 * free on this machine and from where each extra one costs real time.
 *
 * Measured through the step loop, so a figure is what a scheduler waits for: the native step plus
 * the loop's own work, from queueing the tokens to holding the logits. Steps shared with other
 * requests' work count theirs too; measure while the model is otherwise idle for a clean curve.
 */
import type { NativeEngine } from '../native/binding.js';
import type { KvAdmission } from './admission.js';
import type { NativeRuntime } from './native-runtime.js';
import type { StepLoop } from './step-loop.js';

export interface StepCost {
  /** Rows per step, ascending. */
  rows: number[];
  /**
   * Milliseconds of a decode step with `rows[i]` rows: the fastest of the timed steps, the figure
   * least disturbed by other work on the machine (see measureStepCost).
   */
  ms: number[];
  /** Context tokens each row's sequence held. */
  contextTokens: number;
  /** The kernels measured ('cpu-avx512', 'cuda-sm90', ...). */
  backend: string;
}

export interface StepCostOptions {
  /** Default [1, 2, 4, 8, 16]. */
  rows?: number[];
  /** Default 32. */
  contextTokens?: number;
  /** Timed steps per row count, after WARM_UP_ROUNDS untimed rounds. Default 30. */
  repeats?: number;
  /**
   * Milliseconds after which no further round starts once MIN_TIMED_ROUNDS were timed (a large
   * model's steps are slow and steadier). Default 2000.
   */
  budgetMs?: number;
  /** Wait in the admission queue when the pool is taken (true), or fail at once with OVERLOADED. Default true. */
  waitForKv?: boolean;
}

/** What measureStepCost needs of a loaded model. */
export interface StepCostTarget {
  engine: NativeEngine;
  loop: StepLoop;
  admission: KvAdmission;
  vocabSize: number;
}

/** The loop's owner id for the measurement's sequences: no request has a negative id. */
const MEASUREMENT_OWNER = -1;

/**
 * Untimed rounds before the timed ones: the first steps of a row count pay for growing the
 * engine's buffers and waking its threads, which a decode in progress does not.
 */
export const WARM_UP_ROUNDS = 3;

/** Timed rounds run whatever budgetMs says. */
export const MIN_TIMED_ROUNDS = 9;

/**
 * Times decode steps of each row count on fresh sequences holding `contextTokens` tokens. The KV
 * it needs is reserved through admission like a request's (it waits in the same queue), and every
 * sequence is released at the end, on error too.
 *
 * Steadiness on a shared machine: row counts take turns (one step of each per round), so a change
 * in load falls on all of them alike, and each figure is the fastest of many steps. Other work
 * only ever adds to a step's time, so the fastest is the one it disturbed least; of the figures
 * tried on a busy 2-core machine (fastest, 10th and 25th percentile, median, CPU time, per-round
 * ratios to the one-row step), the fastest of 30 varied least between measurements (one-row
 * figure within about 3%, against 6% for the fastest of 9 and 9-13% for the median).
 * @throws GenerationError KV_EXHAUSTED when the pool cannot hold the measurement, MODEL_DISPOSED.
 */
export async function measureStepCost(target: StepCostTarget, options: StepCostOptions = {}): Promise<StepCost> {
  const rows = [...(options.rows ?? [1, 2, 4, 8, 16])].sort((a, b) => a - b);
  const contextTokens = options.contextTokens ?? 32;
  const repeats = options.repeats ?? 30;
  if (rows.length === 0 || !rows.every((r) => Number.isInteger(r) && r > 0)) throw new RangeError(`stepCost rows must be positive integers, got ${rows}`);
  if (!(Number.isInteger(contextTokens) && contextTokens > 0)) throw new RangeError(`stepCost contextTokens must be a positive integer, got ${contextTokens}`);
  if (!(Number.isInteger(repeats) && repeats > 0)) throw new RangeError(`stepCost repeats must be a positive integer, got ${repeats}`);
  const { engine, loop, admission, vocabSize } = target;
  const width = rows[rows.length - 1];
  const decodeSlots = rows.reduce((n, r) => n + r * (WARM_UP_ROUNDS + repeats), 0);
  const reservation = admission.reserve(width * contextTokens + decodeSlots, options.waitForKv ?? true);
  const seqs: number[] = [];
  try {
    await reservation.granted;
    for (let i = 0; i < width; i++) seqs.push(engine.createSequence());
    const prompt = Array.from({ length: contextTokens }, (_, i) => (i * 7919) % vocabSize);
    await Promise.all(seqs.map((seq) => loop.run(seq, prompt, prompt.map((_, i) => i), 'none', MEASUREMENT_OWNER)));
    const next = seqs.map(() => contextTokens);
    // Row counts take turns, so a change in the machine's load falls on all of them alike.
    const times: number[][] = rows.map(() => []);
    const started = performance.now();
    const budgetMs = options.budgetMs ?? 2000;
    for (let round = 0; round < WARM_UP_ROUNDS + repeats; round++) {
      if (round >= WARM_UP_ROUNDS + MIN_TIMED_ROUNDS && performance.now() - started > budgetMs) break;
      for (const [k, r] of rows.entries()) {
        const t0 = performance.now();
        // Queued in one turn of the event loop, so the loop steps them together.
        await Promise.all(seqs.slice(0, r).map((seq, i) => loop.run(seq, [next[i] % vocabSize], [next[i]++], 'last', MEASUREMENT_OWNER)));
        if (round >= WARM_UP_ROUNDS) times[k].push(performance.now() - t0);
      }
    }
    const ms = times.map((t) => Math.min(...t));
    return { rows, ms, contextTokens, backend: engine.backend };
  } finally {
    for (const seq of seqs) loop.release(seq);
    reservation.release();
  }
}

/**
 * Milliseconds of a step with `rows` rows, read off `cost` linearly between measured row counts
 * and along the last segment beyond them (the first measured figure below the first row count).
 */
export function stepMs(cost: StepCost, rows: number): number {
  const { rows: xs, ms } = cost;
  if (xs.length === 1 || rows <= xs[0]) return ms[0];
  let i = 1;
  while (i < xs.length - 1 && xs[i] < rows) i++;
  const slope = (ms[i] - ms[i - 1]) / (xs[i] - xs[i - 1]);
  return ms[i - 1] + slope * (rows - xs[i - 1]);
}

/**
 * What "nearly free" means for `lanesFor`: a step of r rows may cost at most this fraction of a
 * one-row step for each row beyond the first. 1 would be no gain at all (each row as dear as its
 * own step); the fastest-of-30 one-row figure still moves by up to about 10% between measurements
 * on a busy CPU (15% and more when it is overloaded), so a tighter line would be drawn by the
 * noise. A quarter sits above the noise and keeps
 * every row within the lanes at least about four times cheaper than a step of its own.
 */
export const NEARLY_FREE_ROW = 0.25;

/**
 * The lane count for `maxPathsPerFork: 'auto'`: the largest measured row count r whose step
 * costs at most ms(1) × (1 + NEARLY_FREE_ROW × (r − 1)); at least 1.
 */
export function lanesFor(cost: StepCost): number {
  const one = stepMs(cost, 1);
  let lanes = 1;
  for (const [i, r] of cost.rows.entries()) {
    if (r > lanes && cost.ms[i] <= one * (1 + NEARLY_FREE_ROW * (r - 1))) lanes = r;
  }
  return lanes;
}

/**
 * The step cost of a loaded model, measured once per model folder and kernel set in this process
 * (`waitForKv`: see StepCostOptions; a measurement that could not start is not kept).
 */
export function runtimeStepCost(model: NativeRuntime, options: Pick<StepCostOptions, 'waitForKv'> = {}): Promise<StepCost> {
  return cachedStepCost(`${model.info.dir}\n${model.info.backend}`, () => measureStepCost(stepCostTarget(model), options));
}

/** What measureStepCost needs, read off a loaded model. */
export function stepCostTarget(model: NativeRuntime): StepCostTarget {
  return { engine: model.engine, loop: model.loop, admission: model.admission, vocabSize: model.checkpoint.config.vocabSize };
}

const measured = new Map<string, Promise<StepCost>>();

/**
 * The cost measured once per `key` (a model folder and kernel set) in this process; a failed
 * measurement is not kept, so the next call tries again.
 */
export function cachedStepCost(key: string, measure: () => Promise<StepCost>): Promise<StepCost> {
  let cost = measured.get(key);
  if (!cost) {
    cost = measure();
    measured.set(key, cost);
    cost.catch(() => measured.delete(key));
  }
  return cost;
}
