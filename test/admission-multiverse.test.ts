/**
 * A Multiverse model under KV pressure: its output must not depend on what else runs. The oracle
 * is the same problem run alone on a pool big enough for every fork at once; the load is 8
 * problems in flight on a pool where forks must wait for each other (and for preemptions).
 */
import { lastValueFrom, mergeMap, range, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DoneEvent, type GenerateOptions, type Model } from '../src/index.js';
import { ARITH_EVAL, testProblems } from '../src/tasks/arith/evaluate.js';
import { problemText } from '../src/tasks/arith/problem.js';
import { expectPoolFree } from './support/pool.js';

const MODEL = 'models/multiverse-arith';
const problems = testProblems(60);
// As the eval asks (src/tasks/evaluate.ts): greedy, the raw prompt, 8 total tokens per critical one.
const optionsAt = (maxTokens: number): GenerateOptions => ({ raw: true, temperature: 0, maxTokens, maxTotalTokens: 8 * maxTokens });

/** A request's done event, and what its stream showed of each branch, in order. */
interface Outcome {
  done: DoneEvent;
  branches: Record<string, string[]>;
}

const solve = async (model: Model, i: number, maxTokens: number): Promise<Outcome> => {
  const events = await lastValueFrom(model.events(ARITH_EVAL.prompt(problems[i], model.tokenizer), optionsAt(maxTokens)).pipe(toArray()));
  const branches: Record<string, string[]> = {};
  for (const e of events) if (e.type !== 'done') (branches[e.branch] ??= []).push(e.type === 'token' ? `${e.tokenId} ${e.text}` : e.type);
  return { done: events.at(-1) as DoneEvent, branches };
};

const inFlight = (model: Model, concurrency: number, maxTokens: number) =>
  lastValueFrom(
    range(0, problems.length).pipe(
      mergeMap(async (i) => ({ i, outcome: await solve(model, i, maxTokens) }), concurrency),
      toArray(),
    ),
  ).then((list) => list.sort((a, b) => a.i - b.i).map((x) => x.outcome));

describe('a Multiverse model under KV pressure', () => {
  /** Each problem alone on a pool that holds every fork at once, per budget. */
  const alone = new Map<number, Outcome[]>();

  beforeAll(async () => {
    const roomy = await loadModel(MODEL, { kvSlots: 32768 });
    try {
      for (const budget of [256, 128]) alone.set(budget, await inFlight(roomy, 1, budget));
    } finally {
      await roomy.dispose();
    }
  });

  const models: Model[] = [];
  afterAll(() => Promise.all(models.map((m) => m.dispose())));

  // The largest reservation a problem reaches alone (prompt, budget, its widest fork) is 1412 slots
  // at a budget of 256 and 644 at 128: on 1536 slots one such fork fits beside a few prompts, on
  // 700 one fork at a time and nothing beside it.
  it.each([
    [256, 1536],
    [128, 700],
  ])('writes every problem as it does alone, 8 in flight at a budget of %i on %i slots', async (budget, kvSlots) => {
    const reference = alone.get(budget)!;
    expect(reference.filter((o) => o.done.stats.forks > 0).length).toBeGreaterThan(problems.length / 2);
    const model = await loadModel(MODEL, { kvSlots });
    models.push(model);
    const crowded = await inFlight(model, 8, budget);
    expect(crowded.map((o) => o.done.text)).toEqual(reference.map((o) => o.done.text));
    expect(crowded.map((o) => [o.done.stats.forks, o.done.stats.forksRefused])).toEqual(reference.map((o) => [o.done.stats.forks, o.done.stats.forksRefused]));
    // A preempted request reran from its prompt; its stream still shows each event once.
    expect(crowded.map((o) => o.branches)).toEqual(reference.map((o) => o.branches));
    const stats = model.admissionStats();
    expect(stats.growthWaited).toBeGreaterThan(0);
    expect(stats.preemptions).toBeGreaterThan(0);
    expect(stats.growthRefused).toBe(0);
    await expectPoolFree(model);
  });

  it('answers chat turns as it does alone, 8 conversations at once on 800 slots', async () => {
    const questions = problems.slice(0, 24).map(problemText);
    const reply = (model: Model, question: string) => {
      const chat = model.chat({ defaults: { temperature: 0, maxTokens: 128, maxTotalTokens: 8 * 128 } });
      const answer = chat.reply(question);
      // Disposed while its turn runs, the conversation holds no KV after it: KV held between turns
      // is not the load this test is about (a lone request waiting on it has its fork refused).
      chat.dispose();
      return answer;
    };
    const roomy = await loadModel(MODEL, { kvSlots: 32768 });
    models.push(roomy);
    const reference: string[] = [];
    for (const q of questions) reference.push((await reply(roomy, q)).text);
    // A chat turn's prompt is the templated conversation, longer than the raw prompt: its widest fork needs more than 700.
    const model = await loadModel(MODEL, { kvSlots: 800 });
    models.push(model);
    const crowded = await lastValueFrom(range(0, questions.length).pipe(mergeMap(async (i) => ({ i, text: (await reply(model, questions[i])).text }), 8), toArray()));
    expect(crowded.sort((a, b) => a.i - b.i).map((x) => x.text)).toEqual(reference);
    // Only chat turns ran: the preempted requests were chat turns.
    expect(model.admissionStats().growthRefused).toBe(0);
    expect(model.admissionStats().preemptions).toBeGreaterThan(0);
    await expectPoolFree(model);
  });
});
