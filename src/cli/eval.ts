/**
 * `multiverse eval`: the Multiverse model against its autoregressive twin on a task's held-out
 * problems (`--task arith`, the default, or `countdown`), on this engine in one run — accuracy,
 * # parallel, critical path, wall clock, whether the model forks as the problem's shape asks, and
 * the budget-control curve. Writes a Markdown report with --out, and the curve as an SVG chart
 * beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from '../model/errors.js';
import { loadModel } from '../facade/load-model.js';
import type { Model } from '../facade/model.js';
import { shippedModelDir, type ShippedModel } from '../facade/shipped-models.js';
import { budgetCurveSvg, type CurvePoint } from '../tasks/budget-plot.js';
import { fitCostModel, predictSeconds, type CostModel, type CostSample } from '../tasks/cost-model.js';
import { ARITH_EVAL, testProblems as arithProblems } from '../tasks/arith/evaluate.js';
import { COUNTDOWN_EVAL, testProblems as countdownProblems } from '../tasks/countdown/evaluate.js';
import { budgetCurve, compareModels, evalKvSlots, type EvalTask, type ModelEvaluation } from '../tasks/evaluate.js';
import { formatHelp, numberOption, parseArgs, UsageError, type OptionSpec } from './args.js';
import { log } from './model-input.js';
import { EVAL_USAGE } from './usage.js';

/** A task the command evaluates: its problems, how to judge them, its model pair under models/, its budgets. */
interface TaskEntry {
  title: string;
  task: EvalTask<unknown>;
  problems: (count: number) => unknown[];
  models: { mv: ShippedModel; ar: ShippedModel };
  /** Default critical-path budget: above the longest sequential solution. */
  maxTokens: number;
  /** Default budget-control curve. */
  budgets: string;
}

const TASKS: Readonly<Record<string, TaskEntry>> = {
  arith: {
    title: 'arithmetic',
    task: ARITH_EVAL as EvalTask<unknown>,
    problems: arithProblems,
    models: { mv: 'multiverse-arith', ar: 'ar-arith' },
    maxTokens: 512,
    budgets: '48,64,96,128,160,192,256',
  },
  countdown: {
    title: 'Countdown',
    task: COUNTDOWN_EVAL as EvalTask<unknown>,
    problems: countdownProblems,
    models: { mv: 'multiverse-countdown', ar: 'ar-countdown' },
    maxTokens: 768,
    budgets: '64,96,128,160,192,256,384,512,640',
  },
};

/**
 * The folder of a task's shipped model.
 * @throws ModelLoadError MODEL_DIR_NOT_FOUND naming the folder and how to train the pair.
 */
function taskModelDir(taskName: string, name: ShippedModel): string {
  try {
    return shippedModelDir(name);
  } catch (e) {
    if (!(e instanceof ModelLoadError) || e.code !== 'MODEL_DIR_NOT_FOUND') throw e;
    throw new ModelLoadError(
      'MODEL_DIR_NOT_FOUND',
      `${e.file}: no ${name} model here; train the ${taskName} pair with \`TASK=${taskName} bash train/run.sh\` (train/README.md), or pass --mv DIR --ar DIR`,
      e.file,
    );
  }
}

const SPEC: Record<string, OptionSpec> = {
  task: { kind: 'string', help: `the task: ${Object.keys(TASKS).join(' or ')} (default arith)` },
  mv: { kind: 'string', help: 'Multiverse model folder (default: models/multiverse-TASK)' },
  ar: { kind: 'string', help: 'autoregressive twin folder (default: models/ar-TASK)' },
  problems: { kind: 'string', help: 'held-out test problems (default 500)' },
  'max-tokens': { kind: 'string', help: 'critical-path budget per problem (default 512 for arith, 768 for countdown)' },
  concurrency: { kind: 'string', help: 'problems in flight at once for the budget curve (default 8; the main comparison runs one at a time)' },
  budgets: { kind: 'string', help: `budget-control curve: comma-separated critical-path budgets (default ${TASKS.arith.budgets} for arith, ${TASKS.countdown.budgets} for countdown)` },
  'budget-problems': { kind: 'string', help: 'problems per point of the curve (default 200)' },
  out: { kind: 'string', help: 'also write the report as Markdown to this file' },
  json: { kind: 'boolean', help: 'print the results as JSON' },
  help: { kind: 'boolean', help: 'show this help' },
};

export async function evalCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.options.help) {
    process.stdout.write(formatHelp(EVAL_USAGE, SPEC));
    return 0;
  }
  const taskName = String(args.options.task ?? 'arith');
  if (!Object.hasOwn(TASKS, taskName)) throw new UsageError(`--task must be ${Object.keys(TASKS).join(' or ')}, got ${taskName}`);
  const entry = TASKS[taskName];
  const count = numberOption(args, 'problems', true) ?? 500;
  const maxTokens = numberOption(args, 'max-tokens', true) ?? entry.maxTokens;
  const concurrency = numberOption(args, 'concurrency', true) ?? 8;
  const curveCount = numberOption(args, 'budget-problems', true) ?? 200;
  const budgets = String(args.options.budgets ?? entry.budgets).split(',').map(Number);
  if ([count, maxTokens, concurrency, curveCount, ...budgets].some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError('counts and budgets must be positive integers');

  const problems = entry.problems(count);
  const mvDir = typeof args.options.mv === 'string' ? args.options.mv : taskModelDir(taskName, entry.models.mv);
  const arDir = typeof args.options.ar === 'string' ? args.options.ar : taskModelDir(taskName, entry.models.ar);
  const models: Model[] = [];
  try {
    // Prompts are one short line (under 64 tokens); room for one problem at the largest budget.
    const kvSlots = evalKvSlots(Math.max(maxTokens, ...budgets));
    const mv = await loadModel(mvDir, { kvSlots });
    models.push(mv);
    const ar = await loadModel(arDir, { kvSlots });
    models.push(ar);
    log(`MV ${mvDir} and AR ${arDir}, taking turns on ${count} problems ...`);
    const both = await compareModels(mv, ar, entry.task, problems, { maxTokens, onProgress: progress('problems') });
    const curves: Record<'mv' | 'ar', CurvePoint[]> = { mv: [], ar: [] };
    for (const [name, model] of [['mv', mv], ['ar', ar]] as const) {
      log(`${name.toUpperCase()}: budget curve ...`);
      curves[name] = await budgetCurve(model, entry.task, problems.slice(0, curveCount), budgets, concurrency);
    }
    const results: Results = {
      MV: { evaluation: both.mv, curve: curves.mv },
      AR: { evaluation: both.ar, curve: curves.ar },
      cost: costOf([...both.mv.outcomes, ...both.ar.outcomes]),
    };
    const out = typeof args.options.out === 'string' ? args.options.out : undefined;
    const svgFile = out?.replace(/(\.md)?$/, '-budget.svg');
    const report = markdown(results, { title: entry.title, count, maxTokens, concurrency, curveCount, argv, svg: svgFile && path.basename(svgFile) });
    if (out !== undefined && svgFile !== undefined) {
      fs.writeFileSync(out, report);
      const series = [
        { name: 'Multiverse', color: '#1f77b4', points: curves.mv },
        { name: 'AR twin', color: '#d62728', points: curves.ar },
      ];
      fs.writeFileSync(svgFile, budgetCurveSvg(series, `Accuracy against the critical-path budget, ${curveCount} test problems`));
    }
    process.stdout.write(args.options.json ? `${JSON.stringify(strip(results), null, 2)}\n` : report);
  } finally {
    for (const model of models) await model.dispose();
  }
  return 0;
}

function progress(name: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    if (done === total || done - last >= Math.ceil(total / 10)) {
      last = done;
      log(`  ${name} ${done}/${total}`);
    }
  };
}

type Result = { evaluation: ModelEvaluation; curve: CurvePoint[] };
type Results = { MV: Result; AR: Result; cost: CostModel | string };

/** Fewer runs than this leave three fitted costs at the mercy of noise. */
const MIN_FIT_RUNS = 20;

/** The cost fit, or why there is none (too few runs, or none of them forked). */
function costOf(samples: CostSample[]): CostModel | string {
  if (samples.length < MIN_FIT_RUNS) return `${samples.length} runs, fewer than the ${MIN_FIT_RUNS} a fit needs`;
  try {
    return fitCostModel(samples);
  } catch (err) {
    return (err as Error).message;
  }
}

/** Results without per-problem outcomes (those are long). */
function strip({ MV, AR, cost }: Results) {
  const brief = (r: Result) => ({ ...r, evaluation: { ...r.evaluation, outcomes: undefined } });
  return { MV: brief(MV), AR: brief(AR), cost };
}

/** The fitted costs, and the speed-up Multiverse would get if a step cost the same for any number of paths. */
function costLines(mv: ModelEvaluation, ar: ModelEvaluation, cost: CostModel | string): string[] {
  if (typeof cost === 'string') return [`Where the time goes: no fit (${cost}).`];
  const ms = (s: number) => `${(1000 * s).toFixed(3)} ms`;
  const change = (a: number, b: number) => `${Math.abs(100 * (a / b - 1)).toFixed(0)}%`;
  const ceiling = predictSeconds(cost, ar.outcomes) / predictSeconds(cost, mv.outcomes, { extraPathsFree: true });
  return [
    `Where the time goes (least-squares fit, no cost below zero, of each problem's seconds over both models' ${mv.problems + ar.problems} runs): ${ms(cost.perRequest)} a request, ${ms(cost.perStep)} a decode step, ${ms(cost.perToken)} a generated token. ` +
      `Multiverse takes ${change(mv.meanCriticalPath, ar.meanCriticalPath)} fewer steps but writes ${change(mv.meanTotalTokens, ar.meanTotalTokens)} more tokens; ` +
      `even if a step cost the same for any number of paths (ideally parallel hardware), these costs would give it ${ceiling.toFixed(2)}x over AR.`,
  ];
}

/** Accuracy by number of top-level parts: `1: 100.0% · 2: 98.5% · …`. */
function byParts(e: ModelEvaluation): string {
  const groups = new Map<number, boolean[]>();
  for (const o of e.outcomes) groups.set(o.parts, [...(groups.get(o.parts) ?? []), o.correct]);
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([parts, ok]) => `${parts}: ${((100 * ok.filter(Boolean).length) / ok.length).toFixed(1)}%`)
    .join(' · ');
}

function markdown(
  { MV: mv, AR: ar, cost }: Results,
  run: { title: string; count: number; maxTokens: number; concurrency: number; curveCount: number; argv: readonly string[]; svg: string | undefined },
): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  // A task without single-part problems (Countdown) has nothing to count there.
  const share = ({ yes, of }: { yes: number; of: number }) => (of === 0 ? '—' : `${yes}/${of}`);
  const row = (name: string, e: ModelEvaluation) =>
    `| ${name} | ${pct(e.accuracy)} | ${e.parallelism.toFixed(2)} | ${e.meanCriticalPath.toFixed(1)} | ${e.meanTotalTokens.toFixed(1)} | ${e.seconds.toFixed(1)} s | ${share(e.singlePartSequential)} | ${share(e.multiPartForkedRight)} |`;
  const curve = mv.curve.map((p, i) => `| ${p.budget} | ${pct(p.accuracy)} | ${pct(ar.curve[i].accuracy)} |`);
  return [
    `# Multiverse vs autoregressive on held-out ${run.title}`,
    '',
    `Command: \`multiverse eval ${run.argv.join(' ')}\` — ${run.count} test problems, greedy, critical-path budget ${run.maxTokens}, one problem at a time with the two models taking turns, same engine, one run.`,
    '',
    '| model | accuracy | # parallel | critical path (tokens) | total tokens | wall clock | single-part kept sequential | multi-part forked one path per part |',
    '|---|---|---|---|---|---|---|---|',
    row('Multiverse', mv.evaluation),
    row('AR twin', ar.evaluation),
    '',
    `Wall-clock speed-up of Multiverse over AR: ${(ar.evaluation.seconds / mv.evaluation.seconds).toFixed(2)}x.`,
    '',
    ...costLines(mv.evaluation, ar.evaluation, cost),
    '',
    `Accuracy by number of parts — Multiverse: ${byParts(mv.evaluation)}; AR twin: ${byParts(ar.evaluation)}.`,
    '',
    `## Budget control (accuracy against the maximum critical-path length, ${run.curveCount} problems, ${run.concurrency} in flight)`,
    '',
    ...(run.svg === undefined ? [] : [`![accuracy against the critical-path budget](${run.svg})`, '']),
    '| budget | Multiverse | AR twin |',
    '|---|---|---|',
    ...curve,
    '',
  ].join('\n');
}
