/**
 * Sequences of one request against a fake engine (test/support/fake-engine.ts): fork shares the
 * prefix, merge concatenates the children in the order given and continues at the largest next
 * position, a deferred token is stepped first at its own position, and nothing native is left
 * behind: not by releaseAll, and not by a merge refused for a deferred token.
 */
import { describe, expect, it } from 'vitest';
import { RequestContext } from '../src/engine/request-context.js';
import { Rng } from '../src/engine/rng.js';
import { StepLoop } from '../src/engine/step-loop.js';
import { FAKE_VOCAB, FakeEngine, ticks } from './support/fake-engine.js';

function setup() {
  const engine = new FakeEngine();
  const request = new RequestContext(new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 }));
  return { engine, request, root: request.createSequence('0', Rng.fromSeed(1)) };
}

const layout = (engine: FakeEngine, seq: number) => engine.slots(seq).map((s) => `${s.token}@${s.position}`);

describe('Sequence', () => {
  it('forks over the shared prefix and merges the children in the order given, at the largest next position', async () => {
    const { engine, request, root } = setup();
    await root.feed([1, 2, 3]);
    const [a, b] = root.fork(2);
    expect([a.branch, b.branch, a.nextPos, b.nextPos]).toEqual(['0/0', '0/1', 3, 3]);
    await Promise.all([a.feed([10, 11]), b.feed([20])]);
    // Both children's steps went into one native step.
    expect(engine.steps.at(-1)!.map((it) => it.seq).sort()).toEqual([a.id, b.id].sort());

    const ab = root.merge([a, b]);
    expect(engine.merges.at(-1)).toEqual({ prefix: root.id, children: [a.id, b.id] });
    expect(layout(engine, ab.id)).toEqual(['1@0', '2@1', '3@2', '10@3', '11@4', '20@3']);
    expect(ab.history.toArray()).toEqual([1, 2, 3, 10, 11, 20]);
    expect([ab.branch, ab.nextPos]).toEqual(['0', 5]);
    await ab.feed([30]);
    expect(engine.steps.at(-1)).toEqual([{ seq: ab.id, tokens: [30], positions: [5], logits: 'last' }]);

    // The other order, and the longer child last: still the largest next position.
    const ba = root.merge([b, a]);
    expect(layout(engine, ba.id)).toEqual(['1@0', '2@1', '3@2', '20@3', '10@3', '11@4']);
    expect([ba.history.toArray(), ba.nextPos]).toEqual([[1, 2, 3, 20, 10, 11], 5]);
    expect(request.stats(5)).toMatchObject({ forks: 1, merges: 2, kvSlotsSaved: 3 });
    request.releaseAll();
    expect(engine.live).toEqual([]);
  });

  it('steps a deferred token first, at its own position, in the next feed; its row is not returned', async () => {
    const { engine, root } = setup();
    await root.feed([1, 2]);
    root.defer(5);
    expect(root.nextPos).toBe(3);
    const rows = await root.feed([6, 7], 'all');
    expect(engine.steps.at(-1)).toEqual([{ seq: root.id, tokens: [5, 6, 7], positions: [2, 3, 4], logits: 'all' }]);
    expect(rows.length).toBe(2 * FAKE_VOCAB);
    expect([rows[2], rows[2 + FAKE_VOCAB]]).toEqual([6, 7]);
    expect(root.history.toArray()).toEqual([1, 2, 5, 6, 7]);
  });

  it('a merge refused for a deferred token leaves no native sequence behind', async () => {
    const { engine, request, root } = setup();
    await root.feed([1, 2, 3]);
    const [a, b] = root.fork(2);
    await Promise.all([a.feed([10]), b.feed([20])]);
    a.defer(11);
    expect(() => root.merge([a, b])).toThrow(/settle/);
    expect(engine.merges).toEqual([]);
    request.releaseAll();
    expect(engine.live).toEqual([]);
    expect(engine.kvStats().freeSlots).toBe(engine.kvStats().totalSlots);
  });

  it('releaseAll drops queued work and frees every live sequence; a released sequence is never stepped again', async () => {
    const { engine, request, root } = setup();
    await root.feed([1, 2, 3]);
    const children = root.fork(3);
    const stepsBefore = engine.steps.length;
    for (const c of children) void c.feed([9]).catch(() => undefined);
    request.releaseAll();
    await ticks();
    expect(engine.steps.length).toBe(stepsBefore);
    expect(engine.live).toEqual([]);
    await expect(children[0].feed([9])).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('gives each child its own random stream, and a second fork streams unlike the first', async () => {
    const { root } = setup();
    await root.feed([1]);
    const draws = (seqs: { rng: Rng }[]) => seqs.map((s) => s.rng.nextUint32());
    const first = draws(root.fork(2));
    const second = draws(root.fork(2));
    expect(new Set([...first, ...second]).size).toBe(4);
  });
});
