/**
 * Evaluates a model on held-out arithmetic problems through the engine: greedy decoding, exact
 * match of the `Answer:` line, critical-path and total tokens (their ratio is the paper's
 * "# parallel"), wall-clock time, and whether the model chose to fork as the problem's shape asks.
 */
import { lastValueFrom, mergeMap, range, tap, toArray, map } from 'rxjs';
import type { GenerateOptions } from '../../engine/generate-options.js';
import type { Model } from '../../facade/model.js';
import type { DoneEvent, GenerationEvent } from '../../rx/events.js';
import { parseAnswer } from './chain.js';
import { promptText } from './export.js';
import { generateProblem, problemAnswer, type Problem } from './problem.js';
import { SPLIT_SEED_BASE } from './splits.js';

/** The first `count` problems of the test split (the split never trained on). */
export function testProblems(count: number): Problem[] {
  return Array.from({ length: count }, (_, i) => generateProblem(SPLIT_SEED_BASE.test + i));
}

export interface ProblemOutcome {
  seed: number;
  parts: number;
  correct: boolean;
  criticalPathTokens: number;
  totalTokens: number;
  /** Paths of the first top-level fork; 0 when the model wrote the solution sequentially. */
  forkedPaths: number;
  /** Wall-clock seconds from the request to its last event. */
  seconds: number;
}

export interface ModelEvaluation {
  problems: number;
  accuracy: number;
  meanCriticalPath: number;
  meanTotalTokens: number;
  /** Total tokens / critical-path tokens over all problems. */
  parallelism: number;
  seconds: number;
  /** Single-part problems solved without a fork. */
  singlePartSequential: { yes: number; of: number };
  /** Multi-part problems whose top-level fork has one path per part. */
  multiPartForkedRight: { yes: number; of: number };
  outcomes: ProblemOutcome[];
}

export interface EvaluateOptions {
  /** Critical-path budget per problem. */
  maxTokens: number;
  /** Requests in flight at once (1 = one problem at a time, the latency view; wall-clock comparisons use compareModels). */
  concurrency: number;
  /** Extra generation options per problem (a constrained decoder, a forcing hook in tests). */
  extra?: (problem: Problem) => GenerateOptions;
  onProgress?: (done: number, total: number) => void;
}

async function solve(model: Model, problem: Problem, maxTokens: number, extra: GenerateOptions): Promise<ProblemOutcome> {
  const t0 = performance.now();
  let forkedPaths = 0;
  const done = (await lastValueFrom(
    model.events(promptText(problem, model.tokenizer), { raw: true, temperature: 0, maxTokens, maxTotalTokens: 8 * maxTokens, ...extra }).pipe(
      tap((e: GenerationEvent) => {
        if (e.type === 'fork' && e.branch === '0' && forkedPaths === 0) forkedPaths = e.paths.length;
      }),
    ),
  )) as DoneEvent;
  return {
    seed: problem.seed,
    parts: problem.parts.length,
    correct: parseAnswer(done.text) === problemAnswer(problem),
    criticalPathTokens: done.usage.criticalPathTokens,
    totalTokens: done.usage.completionTokens,
    forkedPaths,
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function evaluate(model: Model, problems: readonly Problem[], options: EvaluateOptions): Promise<ModelEvaluation> {
  const t0 = performance.now();
  let finished = 0;
  const outcomes = await lastValueFrom(
    range(0, problems.length).pipe(
      mergeMap((i) => solve(model, problems[i], options.maxTokens, options.extra?.(problems[i]) ?? {}).then((o) => ({ i, o })), options.concurrency),
      tap(() => options.onProgress?.(++finished, problems.length)),
      toArray(),
      map((list) => list.sort((a, b) => a.i - b.i).map((x) => x.o)),
    ),
  );
  return summarize(outcomes, (performance.now() - t0) / 1000);
}

/**
 * The Multiverse model against its twin on the same problems, one problem at a time, the two
 * models taking turns problem by problem (and alternating who goes first), so that a change in
 * the machine's load during the run falls on both alike. Each model's `seconds` is the sum of its
 * own problems' wall-clock times.
 */
export async function compareModels(
  mv: Model,
  ar: Model,
  problems: readonly Problem[],
  options: { maxTokens: number; onProgress?: (done: number, total: number) => void },
): Promise<{ mv: ModelEvaluation; ar: ModelEvaluation }> {
  const outcomes = { mv: [] as ProblemOutcome[], ar: [] as ProblemOutcome[] };
  for (const [i, problem] of problems.entries()) {
    const order = i % 2 === 0 ? (['mv', 'ar'] as const) : (['ar', 'mv'] as const);
    for (const name of order) outcomes[name].push(await solve(name === 'mv' ? mv : ar, problem, options.maxTokens, {}));
    options.onProgress?.(i + 1, problems.length);
  }
  const seconds = (list: ProblemOutcome[]) => list.reduce((s, o) => s + o.seconds, 0);
  return { mv: summarize(outcomes.mv, seconds(outcomes.mv)), ar: summarize(outcomes.ar, seconds(outcomes.ar)) };
}

function summarize(outcomes: ProblemOutcome[], seconds: number): ModelEvaluation {
  const sum = (f: (o: ProblemOutcome) => number) => outcomes.reduce((s, o) => s + f(o), 0);
  const single = outcomes.filter((o) => o.parts === 1);
  const multi = outcomes.filter((o) => o.parts > 1);
  return {
    problems: outcomes.length,
    accuracy: sum((o) => (o.correct ? 1 : 0)) / outcomes.length,
    meanCriticalPath: sum((o) => o.criticalPathTokens) / outcomes.length,
    meanTotalTokens: sum((o) => o.totalTokens) / outcomes.length,
    parallelism: sum((o) => o.totalTokens) / sum((o) => o.criticalPathTokens),
    seconds,
    singlePartSequential: { yes: single.filter((o) => o.forkedPaths === 0).length, of: single.length },
    multiPartForkedRight: { yes: multi.filter((o) => o.forkedPaths === o.parts).length, of: multi.length },
    outcomes,
  };
}

/** Accuracy under each critical-path budget: the paper's budget-control curve. */
export async function budgetCurve(model: Model, problems: readonly Problem[], budgets: readonly number[], concurrency: number): Promise<{ budget: number; accuracy: number }[]> {
  const curve: { budget: number; accuracy: number }[] = [];
  for (const budget of budgets) {
    const e = await evaluate(model, problems, { maxTokens: budget, concurrency });
    curve.push({ budget, accuracy: e.accuracy });
  }
  return curve;
}
