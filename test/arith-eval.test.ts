/**
 * The engine-side evaluation on the arithmetic task, with the model's writing forced: a forced
 * Multiverse solution forks one path per part and is scored correct with # parallel > 1; a forced
 * sequential solution stays sequential; a wrong answer scores wrong.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { solutionText } from '../src/tasks/arith/export.js';
import { ARITH_EVAL, testProblems } from '../src/tasks/arith/evaluate.js';
import { evaluate } from '../src/tasks/evaluate.js';
import type { Problem } from '../src/tasks/arith/problem.js';
import { branchScripts } from '../src/testkit/branch-scripts.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

describe('arithmetic evaluation through the engine', () => {
  const problems = testProblems(40).filter((p) => p.parts.every((part) => part.kind === 'product')).slice(0, 6);

  it('scores forced Multiverse and sequential solutions', async () => {
    // Three problems in flight with every fork's worst case reserved (up to 6 paths of 1024 tokens).
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 32768, contextLength: 2048 });
    const eos = model.tokenizer.eosTokenIds[0];
    const forced = (format: 'multiverse' | 'sequential', corrupt = false) => (problem: Problem) => {
      let text = solutionText(problem, format);
      if (corrupt) text = text.replace(/Answer: \d+/, 'Answer: 1');
      return { pickToken: forceScripts(model, format === 'multiverse' ? branchScripts(text) : { '0': text }, eos).pickToken };
    };
    const mv = await evaluate(model, ARITH_EVAL, problems, { maxTokens: 1024, concurrency: 3, extra: forced('multiverse') });
    expect(mv.accuracy).toBe(1);
    const multi = problems.filter((p) => p.parts.length > 1).length;
    expect(mv.multiPartForkedRight).toEqual({ yes: multi, of: multi });
    expect(mv.singlePartSequential).toEqual({ yes: problems.length - multi, of: problems.length - multi });
    expect(mv.parallelism).toBeGreaterThan(1);

    const ar = await evaluate(model, ARITH_EVAL, problems, { maxTokens: 1024, concurrency: 3, extra: forced('sequential') });
    expect(ar.accuracy).toBe(1);
    expect(ar.parallelism).toBe(1);
    expect(ar.multiPartForkedRight.yes).toBe(0);
    expect(ar.meanCriticalPath).toBeGreaterThan(mv.meanCriticalPath);

    const wrong = await evaluate(model, ARITH_EVAL, problems, { maxTokens: 1024, concurrency: 3, extra: forced('sequential', true) });
    expect(wrong.accuracy).toBe(0); // no product of a two-digit and a one-digit number is 1
    await new Promise((r) => setImmediate(r));
    expect(model.kvStats().freeSlots).toBe(32768);
    await model.dispose();
  });
});
