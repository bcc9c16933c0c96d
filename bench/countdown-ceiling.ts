/**
 * `npm run bench:countdown`: the wall-clock speed-up the Countdown pair can reach on this engine
 * and machine, measured before the pair exists. A model of the pair's shape and tokenizer (the
 * shipped arithmetic Multiverse model: same Qwen2 size, same vocabulary) is made to write the
 * reference solutions (src/tasks/countdown/export.ts) token by token: the Multiverse solution with
 * its forks, nested paths and merges, then the sequential one. Every decode step, fork and merge
 * is real; only the choice of each token is forced, so this is the speed-up a pair that learned
 * the format perfectly would get, one problem at a time, as `multiverse eval --task countdown`
 * runs it.
 *
 *   npm run bench:countdown                      # 100 test problems, 3 passes
 *   npm run bench:countdown -- --problems 20 --passes 1 --threads 1
 *
 * Each problem runs in both formats back to back (the order alternating), so a change in the
 * machine's load falls on both. Every forced run must be scored correct by the task's checker.
 * Forcing hands each token's logits row to JavaScript (512 floats here), which greedy decoding
 * does natively: a few microseconds per token that the eval does not pay.
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import { shippedModelDir } from '../src/facade/shipped-models.js';
import { COUNTDOWN_EVAL, testProblems } from '../src/tasks/countdown/evaluate.js';
import { evaluate, evalKvSlots } from '../src/tasks/evaluate.js';
import { solutionText } from '../src/tasks/countdown/export.js';
import type { Problem } from '../src/tasks/countdown/problem.js';
import { branchScripts } from '../src/testkit/branch-scripts.js';
import { loadAverage, machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    problems: { type: 'string', default: '100' },
    passes: { type: 'string', default: '3' },
    threads: { type: 'string' },
  },
});
const log = (s: string) => process.stderr.write(`${s}\n`);

type Format = 'multiverse' | 'sequential';

/** `multiverse eval --task countdown`'s critical-path budget, and its KV pool for it. */
const COUNTDOWN_BUDGET = 768;

interface Run {
  ms: number;
  tokens: number;
  criticalPath: number;
}

/**
 * One problem written in `format` by forcing its reference solution, through the eval's own
 * request (evaluate(): its budget, token limits and prompt), timed.
 * @throws Error when the checker does not score it correct, or a branch of the solution never ran
 *   (a fork written sequentially: the run would then be shorter than the solution).
 */
async function forcedRun(model: Model, problem: Problem, format: Format): Promise<Run> {
  const scripts = format === 'multiverse' ? branchScripts(solutionText(problem, format)) : { '0': solutionText(problem, format) };
  const eos = model.tokenizer.eosTokenIds[0];
  // Tokenized before the clock starts: the forcing's own work, not the engine's.
  const tokens = new Map(Object.entries(scripts).map(([branch, text]) => [branch, model.tokenizer.encode(text, { addSpecialTokens: false })]));
  const ran = new Set<string>();
  const pickToken = ({ branch, generated }: { branch: string; generated: number }) => {
    ran.add(branch);
    return tokens.get(branch)?.[generated] ?? eos;
  };
  const outcome = (await evaluate(model, COUNTDOWN_EVAL, [problem], { maxTokens: COUNTDOWN_BUDGET, concurrency: 1, extra: () => ({ pickToken }) })).outcomes[0];
  const what = `the forced ${format} solution of ${problem.numbers.join(' ')} -> ${problem.target}`;
  if (!outcome.correct) throw new Error(`${what} was not scored correct`);
  const missing = [...tokens.keys()].filter((b) => !ran.has(b));
  if (missing.length > 0) throw new Error(`${what}: branches ${missing.join(', ')} never ran (a fork was written sequentially)`);
  return { ms: outcome.seconds * 1000, tokens: outcome.totalTokens, criticalPath: outcome.criticalPathTokens };
}

async function main(): Promise<void> {
  const problems = testProblems(Number(values.problems));
  const passes = Number(values.passes);
  const model = await loadModel(shippedModelDir('multiverse-arith'), { kvSlots: evalKvSlots(COUNTDOWN_BUDGET), ...(values.threads === undefined ? {} : { threads: Number(values.threads) }) });
  log(`${machineLine()}\n${model.info.backend}, ${problems.length} problems, ${passes} passes`);
  const totals: Record<Format, number[]> = { multiverse: [], sequential: [] };
  const last: Record<Format, Run[]> = { multiverse: [], sequential: [] };
  for (let pass = 0; pass < passes; pass++) {
    const sums: Record<Format, number> = { multiverse: 0, sequential: 0 };
    for (const [i, problem] of problems.entries()) {
      const order: Format[] = (i + pass) % 2 === 0 ? ['multiverse', 'sequential'] : ['sequential', 'multiverse'];
      for (const format of order) {
        const run = await forcedRun(model, problem, format);
        sums[format] += run.ms;
        if (pass === passes - 1) last[format].push(run);
      }
    }
    for (const f of ['multiverse', 'sequential'] as const) totals[f].push(sums[f]);
    log(`pass ${pass + 1}: Multiverse ${(sums.multiverse / 1000).toFixed(2)} s, sequential ${(sums.sequential / 1000).toFixed(2)} s`);
  }
  await model.dispose();
  const mean = (runs: Run[], f: (r: Run) => number) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  const row = (name: string, f: Format) => [
    name,
    (mean(last[f], (r) => r.tokens)).toFixed(1),
    (mean(last[f], (r) => r.criticalPath)).toFixed(1),
    (median(totals[f]) / problems.length).toFixed(2),
  ];
  process.stdout.write(`${machineLine()}; ${loadAverage()}\n`);
  process.stdout.write(`Countdown reference solutions forced through ${model.info.backend} (the shipped arithmetic model's shape and tokenizer), one problem at a time, median of ${passes} passes\n`);
  process.stdout.write(formatTable(['format', 'tokens', 'critical path', 'ms/problem'], [row('Multiverse', 'multiverse'), row('sequential', 'sequential')]));
  process.stdout.write(`\nspeed-up of Multiverse over sequential: ${(median(totals.sequential) / median(totals.multiverse)).toFixed(2)}x\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
