/**
 * The three examples in examples/, on the tiny model: self-consistency voting with forced answers,
 * best-of-n against mean logprobs from the dense reference, and a breadth-2 tree search whose
 * chosen path is recomputed level by level with the dense reference. Each leaves the KV pool free.
 */
import { lastValueFrom, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestOfN } from '../examples/best-of-n.js';
import { selfConsistency } from '../examples/self-consistency.js';
import { treeSearch } from '../examples/tree-search.js';
import { loadModel, type Model } from '../src/index.js';
import { denseForward } from './reference/dense-forward.js';
import { forceScripts } from './support/forcing.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree } from './support/pool.js';
import { causal, loadForReference, range, type Loaded } from './support/oracle.js';

const PROMPT = [12, 34, 56, 78, 90];

/** Log-probabilities of `tokens` continuing `context`, from one causal dense float64 pass. */
function denseLogprobs(ref: Loaded, context: number[], tokens: number[]): number[] {
  const all = [...context, ...tokens];
  const rows = denseForward(ref.checkpoint.config, ref.weights, all, range(0, all.length), causal);
  return tokens.map((t, j) => logSoftmaxAt(rows[context.length - 1 + j], t));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('examples', () => {
  let model: Model;
  let ref: Loaded;
  let eos: number;
  const encode = (text: string) => model.tokenizer.encode(text, { addSpecialTokens: false });

  beforeAll(async () => {
    const dir = tinyModel('qwen2', 'F32');
    [model, ref] = await Promise.all([loadModel(dir, { kvSlots: 1024, contextLength: 256 }), loadForReference(dir)]);
    eos = model.tokenizer.eosTokenIds[0];
  });
  afterAll(() => model.dispose());

  it('self-consistency: the majority of the forced answers wins', async () => {
    const forcing = forceScripts(model, { '0/0': ' 42', '0/1': ' so 42', '0/2': ' 7', '0/3': ' no idea' }, eos);
    const v = await lastValueFrom(selfConsistency(model, PROMPT, { n: 4, maxTokens: 16, pickToken: forcing.pickToken }));
    expect(v.answer).toBe('42');
    expect(v.votes).toEqual({ 42: 2, 7: 1 });
    expect(v.winners.map((r) => r.branch)).toEqual(['0/0', '0/1']);
    expect(v.results.map((r) => r.text)).toEqual([' 42', ' so 42', ' 7', ' no idea']);
    expect(v.results.every((r) => r.finishReason === 'stop' && !r.truncated)).toBe(true);
    await expectPoolFree(model);
  });

  it('best-of-n: keeps the branch with the highest dense mean logprob', async () => {
    // The best script is not the first: a reducer that kept branch 0 would fail.
    const scripts = [' 9 9 9 9', ' hello world', ' the cat sat', ' a<Think> b'];
    const forcing = forceScripts(model, Object.fromEntries(scripts.map((s, i) => [`0/${i}`, s])), eos);
    const dense = scripts.map((s) => denseLogprobs(ref, PROMPT, encode(s)));
    const means = dense.map(mean);
    const winner = means.indexOf(Math.max(...means));
    // The oracle's scores must separate the winner, or the test would not tell anything.
    expect(new Set(means.map((m) => m.toFixed(3))).size).toBe(scripts.length);

    const best = await lastValueFrom(bestOfN(model, PROMPT, { n: scripts.length, maxTokens: 16, pickToken: forcing.pickToken }));
    expect(winner).toBe(2);
    expect(best.index).toBe(winner);
    expect(best.tokenIds).toEqual(encode(scripts[winner]));
    best.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(dense[winner][j], 3));
    expect(best.meanLogprob).toBeCloseTo(means[winner], 3);
    await expectPoolFree(model);
  });

  it('tree search: follows the dense-best branch at every level and releases the losers', async () => {
    const words = [' red', ' green blue', ' 1 2 3', ' yes', ' the end'];
    // A fixed script per branch path, so both siblings of a level differ.
    const scriptOf = (branch: string) => words[[...branch].reduce((h, c) => h * 31 + c.charCodeAt(0), 7) % words.length];
    const forcing = forceScripts(model, scriptOf, eos);
    const depth = 3;

    // Oracle: from the prompt, score both children of the current winner densely and keep the better.
    const expected: string[] = [];
    let context = [...PROMPT];
    let branch = '0';
    for (let level = 0; level < depth; level++) {
      const children = [0, 1].map((i) => `${branch}/${i}`);
      const scores = children.map((c) => mean(denseLogprobs(ref, context, encode(scriptOf(c)))));
      branch = children[scores[1] > scores[0] ? 1 : 0];
      expected.push(branch);
      context = [...context, ...encode(scriptOf(branch))];
    }

    let liveAtEnd = -1;
    const path = await lastValueFrom(
      treeSearch(model, PROMPT, { depth, step: 8, pickToken: forcing.pickToken }).pipe(tap(() => (liveAtEnd = model.kvStats().sequences))),
    );
    expect(path.map((r) => r.branch)).toEqual(expected);
    expect(path.at(-1)!.branch.split('/')).toHaveLength(depth + 1);
    expect(path.flatMap((r) => r.tokenIds)).toEqual(context.slice(PROMPT.length));
    // While the session was open: the root and one winner per level; every loser was released.
    expect(liveAtEnd).toBe(depth + 1);
    await expectPoolFree(model);
  });
});
