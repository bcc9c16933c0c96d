/**
 * The branch operators on a real session over the tiny model: `mapBranch(take(k))` stops branches in
 * the engine even when only their results are read, and `mergeBranches()` gives a node whose
 * context is the parent's plus each branch's tokens, checked against one dense pass with the
 * Multiverse mask and positions.
 */
import { lastValueFrom, mergeMap, take, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, mapBranch, mergeBranches, reduceBranches, type Branch, type BranchResult, type Model } from '../src/index.js';
import { denseForward } from './reference/dense-forward.js';
import { forceScripts } from './support/forcing.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { tinyModel } from './support/models.js';
import { loadForReference, range, type Loaded } from './support/oracle.js';
import { expectPoolFree } from './support/pool.js';

const PROMPT = [9, 8, 7, 6, 5];

describe('operators on a session', () => {
  let model: Model;
  let ref: Loaded;

  beforeAll(async () => {
    const dir = tinyModel('qwen2', 'F32');
    [model, ref] = await Promise.all([loadModel(dir, { kvSlots: 1024, contextLength: 256 }), loadForReference(dir)]);
  });
  afterAll(() => model.dispose());

  const results = (cut: (b: Observable<Branch>) => Observable<Branch>) =>
    lastValueFrom(
      model.session(PROMPT, { seed: 21, maxTokens: 40, ignoreEos: true }, (root) => cut(root.fork(3, { temperature: 1 })).pipe(reduceBranches((rs) => rs))),
    );

  it('mapBranch(take(k)) stops each branch after k tokens, driven by result$ alone', async () => {
    const full = await results((b) => b);
    await expectPoolFree(model);
    const stepsBefore = model.loop.steps;
    const cut = await results((b) => b.pipe(mapBranch(take(4))));
    // The same seed draws the same tokens; the cut run stops after four of them.
    expect(cut.map((r) => r.tokenIds)).toEqual(full.map((r) => r.tokenIds.slice(0, 4)));
    expect(cut.map((r) => [r.truncated, r.logprobs.length])).toEqual([[true, 4], [true, 4], [true, 4]]);
    expect(full.every((r) => !r.truncated && r.tokenIds.length === 40)).toBe(true);
    // Prefill plus a few decode steps, far from the 40 the full run took.
    expect(model.loop.steps - stepsBefore).toBeLessThan(10);
    await expectPoolFree(model);
  });

  it("mergeBranches() continues on the parent's context followed by every branch, as one dense Multiverse pass", async () => {
    const eos = model.tokenizer.eosTokenIds[0];
    const encode = (text: string) => model.tokenizer.encode(text, { addSpecialTokens: false });
    // After the merge the continuation forks from node '0' again, so it is '0/0' too and replays its script.
    const scripts = { '0/0': ' a b', '0/1': ' c d e' };
    const forcing = forceScripts(model, scripts, eos);
    const continuation: BranchResult = await lastValueFrom(
      model.session(PROMPT, { pickToken: forcing.pickToken, maxTokens: 16 }, (root) =>
        root.fork(2).pipe(
          mergeBranches(),
          mergeMap((merged) => merged.generate()),
          reduceBranches(([r]) => r),
        ),
      ),
    );
    const [a, b, c] = [encode(scripts['0/0']), encode(scripts['0/1']), encode(scripts['0/0'])];
    expect(continuation.tokenIds).toEqual(c);

    // The flattened transcript: both branches start at the same position and never see each other;
    // the continuation starts after the longer one and sees everything.
    const p = PROMPT.length;
    const tokens = [...PROMPT, ...a, ...b, ...c];
    const positions = [...range(0, p), ...range(p, p + a.length), ...range(p, p + b.length), ...range(p + Math.max(a.length, b.length), p + Math.max(a.length, b.length) + c.length)];
    const inA = (i: number) => i >= p && i < p + a.length;
    const inB = (i: number) => i >= p + a.length && i < p + a.length + b.length;
    const visible = (q: number, k: number) => k <= q && !(inB(q) && inA(k));
    const rows = denseForward(ref.checkpoint.config, ref.weights, tokens, positions, visible);
    const start = p + a.length + b.length;
    // Each token is scored by the row of the token before it: for the first, the last branch's last token.
    continuation.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(logSoftmaxAt(rows[start + j - 1], c[j]), 3));
    await expectPoolFree(model);
  });
});
