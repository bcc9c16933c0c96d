/**
 * `multiverse eval`: the Multiverse model against its autoregressive twin on held-out arithmetic
 * problems, on this engine in one run — accuracy, # parallel, critical path, wall clock, whether
 * the model forks as the problem's shape asks, and the budget-control curve. Writes a Markdown
 * report with --out.
 */
import fs from 'node:fs';
import { loadModel } from '../model/load-model.js';
import { budgetCurve, evaluate, testProblems, type ModelEvaluation } from '../tasks/arith/evaluate.js';
import { formatHelp, numberOption, parseArgs, UsageError, type OptionSpec } from './args.js';
import { log } from './model-input.js';

const SPEC: Record<string, OptionSpec> = {
  mv: { kind: 'string', help: 'Multiverse model folder (default models/multiverse-arith)' },
  ar: { kind: 'string', help: 'autoregressive twin folder (default models/ar-arith)' },
  problems: { kind: 'string', help: 'held-out test problems (default 500)' },
  'max-tokens': { kind: 'string', help: 'critical-path budget per problem (default 512)' },
  concurrency: { kind: 'string', help: 'problems in flight at once (default 1: one at a time)' },
  budgets: { kind: 'string', help: 'budget-control curve: comma-separated critical-path budgets (default 32,48,64,96,128,192)' },
  'budget-problems': { kind: 'string', help: 'problems per point of the curve (default 200)' },
  out: { kind: 'string', help: 'also write the report as Markdown to this file' },
  json: { kind: 'boolean', help: 'print the results as JSON' },
  help: { kind: 'boolean', help: 'show this help' },
};

export const EVAL_USAGE = 'usage: multiverse eval [--mv DIR] [--ar DIR] [--problems N] [--concurrency N] [--budgets 32,64,…] [--out FILE] [--json]';

export async function evalCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.options.help) {
    process.stdout.write(formatHelp(EVAL_USAGE, SPEC));
    return 0;
  }
  const count = numberOption(args, 'problems', true) ?? 500;
  const maxTokens = numberOption(args, 'max-tokens', true) ?? 512;
  const concurrency = numberOption(args, 'concurrency', true) ?? 1;
  const curveCount = numberOption(args, 'budget-problems', true) ?? 200;
  const budgets = String(args.options.budgets ?? '32,48,64,96,128,192').split(',').map(Number);
  if ([count, maxTokens, concurrency, curveCount, ...budgets].some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError('counts and budgets must be positive integers');

  const problems = testProblems(count);
  const results: Record<string, { evaluation: ModelEvaluation; curve: { budget: number; accuracy: number }[] }> = {};
  for (const [name, dir] of [
    ['MV', String(args.options.mv ?? 'models/multiverse-arith')],
    ['AR', String(args.options.ar ?? 'models/ar-arith')],
  ] as const) {
    const model = await loadModel(dir);
    try {
      log(`${name}: ${dir} on ${count} problems ...`);
      const evaluation = await evaluate(model, problems, { maxTokens, concurrency, onProgress: progress(name) });
      log(`${name}: budget curve ...`);
      const curve = await budgetCurve(model, problems.slice(0, curveCount), budgets, Math.max(concurrency, 8));
      results[name] = { evaluation, curve };
    } finally {
      await model.dispose();
    }
  }
  const report = markdown(results.MV, results.AR, { count, maxTokens, concurrency, curveCount, argv });
  if (typeof args.options.out === 'string') fs.writeFileSync(args.options.out, report);
  process.stdout.write(args.options.json ? `${JSON.stringify(strip(results), null, 2)}\n` : report);
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

/** Results without per-problem outcomes (those are long). */
function strip(results: Record<string, { evaluation: ModelEvaluation; curve: unknown }>) {
  return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { ...v, evaluation: { ...v.evaluation, outcomes: undefined } }]));
}

type Result = { evaluation: ModelEvaluation; curve: { budget: number; accuracy: number }[] };

function markdown(mv: Result, ar: Result, run: { count: number; maxTokens: number; concurrency: number; curveCount: number; argv: readonly string[] }): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const row = (name: string, e: ModelEvaluation) =>
    `| ${name} | ${pct(e.accuracy)} | ${e.parallelism.toFixed(2)} | ${e.meanCriticalPath.toFixed(1)} | ${e.meanTotalTokens.toFixed(1)} | ${e.seconds.toFixed(1)} s | ${e.singlePartSequential.yes}/${e.singlePartSequential.of} | ${e.multiPartForkedRight.yes}/${e.multiPartForkedRight.of} |`;
  const curve = mv.curve.map((p, i) => `| ${p.budget} | ${pct(p.accuracy)} | ${pct(ar.curve[i].accuracy)} |`);
  return [
    `# Multiverse vs autoregressive on held-out arithmetic`,
    '',
    `Command: \`multiverse eval ${run.argv.join(' ')}\` — ${run.count} test problems, greedy, critical-path budget ${run.maxTokens}, ${run.concurrency} in flight, same engine, one run.`,
    '',
    '| model | accuracy | # parallel | critical path (tokens) | total tokens | wall clock | single-part kept sequential | multi-part forked one path per part |',
    '|---|---|---|---|---|---|---|---|',
    row('Multiverse', mv.evaluation),
    row('AR twin', ar.evaluation),
    '',
    `Wall-clock speed-up of Multiverse over AR: ${(ar.evaluation.seconds / mv.evaluation.seconds).toFixed(2)}x.`,
    '',
    `## Budget control (accuracy against the maximum critical-path length, ${run.curveCount} problems)`,
    '',
    '| budget | Multiverse | AR twin |',
    '|---|---|---|',
    ...curve,
    '',
  ].join('\n');
}
