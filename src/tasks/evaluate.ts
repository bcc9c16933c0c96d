/**
 * Evaluates a model on a task's held-out problems through the engine: greedy decoding, the task's
 * own check of the answer, critical-path and total tokens (their ratio is the paper's
 * "# parallel"), wall-clock time, and whether the model chose to fork as the problem's shape asks.
 */
import { lastValueFrom, mergeMap, range, tap, toArray, map } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { Model } from '../facade/model.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { DoneEvent, GenerationEvent } from '../rx/events.js';
import { ROOT_BRANCH } from '../engine/branch-path.js';
import { FORCED_TOKENS_SLACK } from '../engine/request-context.js';

/** What the evaluation needs to know about a task's problems. */
export interface EvalTask<P> {
  /** The prompt the model completes. */
  prompt(problem: P, tokenizer: Tokenizer): string;
  /** Whether a completion's answer is right (by the task's own check, not a string comparison). */
  isCorrect(problem: P, text: string): boolean;
  /** The paths the problem's plan forks into at the top level; 1 when it should stay sequential. */
  parts(problem: P): number;
  seed(problem: P): number;
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

export interface EvaluateOptions<P> {
  /** Critical-path budget per problem. */
  maxTokens: number;
  /** Requests in flight at once (1 = one problem at a time, the latency view; wall-clock comparisons use compareModels). */
  concurrency: number;
  /** Extra generation options per problem (a constrained decoder, a forcing hook in tests). */
  extra?: (problem: P) => GenerateOptions;
  onProgress?: (done: number, total: number) => void;
}

/** A problem may write this many tokens in all (paths included) per token of its critical-path budget. */
const TOTAL_PER_CRITICAL_TOKEN = 8;

/** Prompt tokens the eval's KV pool allows for (the tasks' prompts are under 40). */
const PROMPT_TOKENS = 64;

/** Paths whose forced tokens the pool allows for (Countdown forks at most 15 in a problem). */
const PATHS = 64;

/**
 * The eval's KV pool (at least the engine's default 4096 slots): one problem at its worst case, so
 * that no fork is refused as too big for the pool: the prompt, every token the problem may write,
 * and the tokens the scheduler may force on each path after a limit (FORCED_TOKENS_SLACK). Problems
 * in flight need no more: under KV pressure the engine makes forks wait (or preempts a request and
 * reruns it) instead of refusing them, so the load changes how long a problem takes, never what the
 * model writes.
 */
export function evalKvSlots(maxTokens: number): number {
  return Math.max(4096, PROMPT_TOKENS + TOTAL_PER_CRITICAL_TOKEN * maxTokens + (PATHS + 1) * FORCED_TOKENS_SLACK);
}

async function solve<P>(model: Model, task: EvalTask<P>, problem: P, maxTokens: number, extra: GenerateOptions): Promise<ProblemOutcome> {
  const t0 = performance.now();
  let forkedPaths = 0;
  const done = (await lastValueFrom(
    model.events(task.prompt(problem, model.tokenizer), { raw: true, temperature: 0, maxTokens, maxTotalTokens: TOTAL_PER_CRITICAL_TOKEN * maxTokens, ...extra }).pipe(
      tap((e: GenerationEvent) => {
        if (e.type === 'fork' && e.branch === ROOT_BRANCH && forkedPaths === 0) forkedPaths = e.paths.length;
      }),
    ),
  )) as DoneEvent;
  return {
    seed: task.seed(problem),
    parts: task.parts(problem),
    correct: task.isCorrect(problem, done.text),
    criticalPathTokens: done.usage.criticalPathTokens,
    totalTokens: done.usage.completionTokens,
    forkedPaths,
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function evaluate<P>(model: Model, task: EvalTask<P>, problems: readonly P[], options: EvaluateOptions<P>): Promise<ModelEvaluation> {
  const t0 = performance.now();
  let finished = 0;
  const outcomes = await lastValueFrom(
    range(0, problems.length).pipe(
      mergeMap((i) => solve(model, task, problems[i], options.maxTokens, options.extra?.(problems[i]) ?? {}).then((o) => ({ i, o })), options.concurrency),
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
export async function compareModels<P>(
  mv: Model,
  ar: Model,
  task: EvalTask<P>,
  problems: readonly P[],
  options: { maxTokens: number; onProgress?: (done: number, total: number) => void },
): Promise<{ mv: ModelEvaluation; ar: ModelEvaluation }> {
  const outcomes = { mv: [] as ProblemOutcome[], ar: [] as ProblemOutcome[] };
  for (const [i, problem] of problems.entries()) {
    const order = i % 2 === 0 ? (['mv', 'ar'] as const) : (['ar', 'mv'] as const);
    for (const name of order) outcomes[name].push(await solve(name === 'mv' ? mv : ar, task, problem, options.maxTokens, {}));
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
export async function budgetCurve<P>(
  model: Model,
  task: EvalTask<P>,
  problems: readonly P[],
  budgets: readonly number[],
  concurrency: number,
): Promise<{ budget: number; accuracy: number }[]> {
  const curve: { budget: number; accuracy: number }[] = [];
  for (const budget of budgets) {
    const e = await evaluate(model, task, problems, { maxTokens: budget, concurrency });
    curve.push({ budget, accuracy: e.accuracy });
  }
  return curve;
}
