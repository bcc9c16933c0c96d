/**
 * The engine-side evaluation on the Countdown task, with the model's writing forced: a forced
 * Multiverse solution forks one path per number played last (and again per first move) and is
 * scored correct with # parallel above 2; its sequential twin stays sequential; an answer that
 * misses the target, or uses a number twice, scores wrong. Also: `multiverse eval --task countdown`
 * on the shipped pair.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { solutionText } from '../src/tasks/countdown/export.js';
import { COUNTDOWN_EVAL, testProblems } from '../src/tasks/countdown/evaluate.js';
import type { Problem } from '../src/tasks/countdown/problem.js';
import { evalKvSlots, evaluate } from '../src/tasks/evaluate.js';
import type { DoneEvent } from '../src/multiverse/events.js';
import { lastValueFrom } from 'rxjs';
import { branchScripts } from '../src/testkit/branch-scripts.js';
import { cli } from './support/cli.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

describe('Countdown evaluation through the engine', () => {
  const problems = testProblems(4);

  it('scores forced Multiverse and sequential solutions by evaluating the reported expression', async () => {
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 65536, contextLength: 2048 });
    const eos = model.tokenizer.eosTokenIds[0];
    const forced = (format: 'multiverse' | 'sequential', answer?: (p: Problem) => string) => (problem: Problem) => {
      let text = solutionText(problem, format);
      if (answer !== undefined) text = text.replace(/Answer: .*$/, `Answer: ${answer(problem)}`);
      return { pickToken: forceScripts(model, format === 'multiverse' ? branchScripts(text) : { '0': text }, eos).pickToken };
    };
    const options = { maxTokens: 700, concurrency: 2 };
    const mv = await evaluate(model, COUNTDOWN_EVAL, problems, { ...options, extra: forced('multiverse') });
    expect(mv.accuracy).toBe(1);
    expect(mv.multiPartForkedRight).toEqual({ yes: problems.length, of: problems.length });
    expect(mv.parallelism).toBeGreaterThan(2);

    const ar = await evaluate(model, COUNTDOWN_EVAL, problems, { ...options, extra: forced('sequential') });
    expect(ar.accuracy).toBe(1);
    expect(ar.parallelism).toBe(1);
    expect(ar.meanCriticalPath).toBeGreaterThan(2 * mv.meanCriticalPath);

    // Another text of the same expression counts: the check evaluates it, it does not compare strings.
    const bracketed = await evaluate(model, COUNTDOWN_EVAL, problems, { ...options, extra: forced('sequential', (p) => `(${solutionText(p, 'sequential').split('Answer: ')[1]})`) });
    expect(bracketed.accuracy).toBe(1);
    const thrice = await evaluate(model, COUNTDOWN_EVAL, problems, { ...options, extra: forced('sequential', (p) => `${p.numbers[0]}+${p.numbers[0]}+${p.numbers[0]}`) });
    expect(thrice.accuracy).toBe(0); // no number is given three times
    const none = await evaluate(model, COUNTDOWN_EVAL, problems, { ...options, extra: forced('sequential', () => 'no') });
    expect(none.accuracy).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(model.kvStats().freeSlots).toBe(65536);
    await model.dispose();
  });

  it("forks every subtree in the eval's pool, one problem's worst case (nested forks do not over-reserve)", async () => {
    // Problems whose solution has two subtrees of 4 paths: their sibling forks come at once, and
    // each reserving the whole budget left used to exceed the pool, so one was written sequentially.
    const wide = testProblems(300)
      .filter((p) => (solutionText(p, 'multiverse').match(/<Path>\d+: \d+<Parallel>(<Goal>(?:<Outline>[^<]*<\/Outline>){4}<\/Goal>)/g) ?? []).length >= 2)
      .slice(0, 3);
    expect(wide.length).toBe(3);
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: evalKvSlots(768), contextLength: 2048 });
    const eos = model.tokenizer.eosTokenIds[0];
    for (const problem of wide) {
      const scripts = branchScripts(solutionText(problem, 'multiverse'));
      const ran = new Set<string>();
      const { pickToken } = forceScripts(model, scripts, eos);
      const done = (await lastValueFrom(
        model.events(COUNTDOWN_EVAL.prompt(problem, model.tokenizer), { raw: true, maxTokens: 768, pickToken: (s) => (ran.add(s.branch), pickToken(s)) }),
      )) as DoneEvent;
      expect(done.stats.forksRefused).toBe(0);
      expect([...ran].sort()).toEqual(Object.keys(scripts).sort());
      expect(COUNTDOWN_EVAL.isCorrect(problem, done.text)).toBe(true);
    }
    await model.dispose();
  });

  it('`multiverse eval --task countdown` runs the shipped pair: the Multiverse model forks every problem and solves them in under half the steps', () => {
    const r = cli('eval', '--task', 'countdown', '--problems', '12', '--budgets', '192', '--budget-problems', '4', '--json');
    expect(r.code).toBe(0);
    const { MV, AR, cost } = JSON.parse(r.stdout);
    // Correctness is the task's own check: the reported expression evaluated against the target.
    expect(MV.evaluation.accuracy).toBeGreaterThanOrEqual(11 / 12);
    expect(AR.evaluation.accuracy).toBeGreaterThanOrEqual(11 / 12);
    expect(MV.evaluation.multiPartForkedRight).toEqual({ yes: 12, of: 12 });
    expect(AR.evaluation.parallelism).toBe(1);
    expect(MV.evaluation.parallelism).toBeGreaterThan(2);
    expect(MV.evaluation.meanCriticalPath).toBeLessThan(AR.evaluation.meanCriticalPath / 2);
    // 24 runs: enough for the cost fit, whose costs are never negative.
    expect(Object.values(cost).every((c) => typeof c === 'number' && c >= 0)).toBe(true);
  });

  it('`multiverse run` on the shipped Countdown model forks every subtree, and says so when the KV pool refuses forks', () => {
    const problem: Problem = { seed: 0, numbers: [3, 7, 6], target: 16 };
    const prompt = 'Make 16 from 3 7 6';
    // The reference search's blocks: one at the top and one per subtree, each a fork or a refusal.
    const blocks = solutionText(problem, 'multiverse').split('<Parallel>').length - 1;
    const counts = (stderr: string) => ({
      forks: Number(/, (\d+) forks, /.exec(stderr)?.[1] ?? 0),
      refused: Number(/, (\d+) forks refused: their paths did not fit the KV pool/.exec(stderr)?.[1] ?? 0),
    });
    const fits = cli('run', '--model', 'models/multiverse-countdown', '--temperature', '0', prompt);
    expect(fits.code).toBe(0);
    expect(COUNTDOWN_EVAL.isCorrect(problem, fits.stdout)).toBe(true);
    expect(counts(fits.stderr)).toEqual({ forks: blocks, refused: 0 });
    // 768 tokens a path: the nested forks' worst case (8 x 768 over all paths) outgrows the default
    // 4096-slot pool, so some subtrees are written without forking, and the stats line says how many.
    const refused = cli('run', '--model', 'models/multiverse-countdown', '--temperature', '0', '--max-tokens', '768', prompt);
    expect(refused.code).toBe(0);
    const c = counts(refused.stderr);
    expect(c.refused).toBeGreaterThan(0);
    expect(c.forks + c.refused).toBe(blocks);
  });
});
