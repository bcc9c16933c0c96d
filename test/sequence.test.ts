/**
 * Sequences of one request against a fake engine (test/support/fake-engine.ts): fork shares the
 * prefix, merge concatenates the children in the order given and continues at the largest next
 * position, a deferred token is stepped first at its own position, and nothing native is left
 * behind: not by releaseAll, and not by a merge refused for a deferred token. A sequence's one
 * transcript keeps token ids and the text released with them in step through fork, merge and
 * feed; a continuation in another owner (a chat turn) starts where the held sequence stands.
 */
import { describe, expect, it } from 'vitest';
import { RequestContext } from '../src/engine/request-context.js';
import { Rng } from '../src/engine/rng.js';
import { StepLoop } from '../src/engine/step-loop.js';
import { FAKE_VOCAB, FakeEngine, ticks } from './support/fake-engine.js';

function setup() {
  const engine = new FakeEngine();
  const loop = new StepLoop(engine, FAKE_VOCAB, { maxStepTokens: 64 });
  const request = new RequestContext(loop);
  return { engine, loop, request, root: request.createSequence('0', Rng.fromSeed(1)) };
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
    expect(ab.tokenIds()).toEqual([1, 2, 3, 10, 11, 20]);
    expect([ab.branch, ab.nextPos]).toEqual(['0', 5]);
    await ab.feed([30]);
    expect(engine.steps.at(-1)).toEqual([{ seq: ab.id, tokens: [30], positions: [5], logits: 'last' }]);

    // The other order, and the longer child last: still the largest next position.
    const ba = root.merge([b, a]);
    expect(layout(engine, ba.id)).toEqual(['1@0', '2@1', '3@2', '20@3', '10@3', '11@4']);
    expect([ba.tokenIds(), ba.nextPos]).toEqual([[1, 2, 3, 20, 10, 11], 5]);
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
    expect(root.tokenIds()).toEqual([1, 2, 5, 6, 7]);
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

  it('keeps token ids and the text released with them in one transcript through fork, merge and feed', async () => {
    const { engine, root } = setup();
    await root.feed([1, 2, 3]); // a prompt shows no text
    await root.feed([4], 'last', undefined, 'Go');
    const [a, b] = root.fork(2);
    // b's first token is half a character: its text is released with the next one.
    await Promise.all([a.feed([10], 'last', undefined, 'a1'), b.feed([20], 'last', undefined, '')]);
    await Promise.all([a.feed([11], 'last', undefined, 'a2'), b.feed([21], 'last', undefined, 'b1')]);
    // A nested fork inside path a, merged back before its parent's merge.
    const [a0, a1] = a.fork(2);
    await Promise.all([a0.feed([40], 'last', undefined, 'x'), a1.feed([50, 51], 'last', undefined, 'yz')]);
    a1.defer(52, '.');
    await a1.settle();
    const a01 = a.merge([a0, a1]);
    // Text held back until the run ended (a stop-string prefix) comes without a token.
    b.appendText('b2');
    expect(a01.written()).toEqual({ tokenIds: [1, 2, 3, 4, 10, 11, 40, 50, 51, 52], text: 'Goa1a2xyz.' });
    expect(b.written()).toEqual({ tokenIds: [1, 2, 3, 4, 20, 21], text: 'Gob1b2' });
    // Forks and merges leave their parents' transcripts as they were.
    expect(root.written()).toEqual({ tokenIds: [1, 2, 3, 4], text: 'Go' });
    expect(a.written()).toEqual({ tokenIds: [1, 2, 3, 4, 10, 11], text: 'Goa1a2' });

    const ab = root.merge([a01, b]);
    expect(ab.tokenCount).toBe(12);
    await ab.feed([30], 'last', undefined, '!');
    expect(ab.written()).toEqual({ tokenIds: [1, 2, 3, 4, 10, 11, 40, 50, 51, 52, 20, 21, 30], text: 'Goa1a2xyz.b1b2!' });
    // The ids are the native KV's tokens, in the same order.
    expect(engine.slots(ab.id).map((s) => s.token)).toEqual(ab.tokenIds());
    const ba = root.merge([b, a01]);
    expect(ba.written()).toEqual({ tokenIds: [1, 2, 3, 4, 20, 21, 10, 11, 40, 50, 51, 52], text: 'Gob1b2a1a2xyz.' });
    expect([ba.tokenCount, engine.slots(ba.id).map((s) => s.token)]).toEqual([12, ba.tokenIds()]);
  });

  it('continueIn: a chat turn starts from the held sequence at its next position with its transcript, and ends without it', async () => {
    const { engine, loop, request: conversation, root: held } = setup();
    await held.feed([1, 2, 3]);
    const [p, q] = held.fork(2);
    await Promise.all([p.feed([10, 11], 'last', undefined, 'pp'), q.feed([20], 'last', undefined, 'q')]);
    const joined = held.merge([p, q]);
    joined.defer(30, '!');
    const turn = new RequestContext(loop);
    expect(() => joined.continueIn(turn, '0', Rng.fromSeed(2))).toThrow(/settle/);
    await joined.settle();

    const start = joined.continueIn(turn, '0', Rng.fromSeed(2));
    // After a merge the next position is the largest path end + the deferred token: 5 + 1.
    expect([start.branch, start.nextPos, joined.nextPos]).toEqual(['0', 6, 6]);
    expect(start.written()).toEqual({ tokenIds: [1, 2, 3, 10, 11, 20, 30], text: 'ppq!' });
    await start.feed([40, 41], 'last', undefined, 'ok');
    expect(engine.steps.at(-1)).toEqual([{ seq: start.id, tokens: [40, 41], positions: [6, 7], logits: 'last' }]);
    expect(layout(engine, start.id)).toEqual(['1@0', '2@1', '3@2', '10@3', '11@4', '20@3', '30@5', '40@6', '41@7']);
    expect(start.written()).toEqual({ tokenIds: [1, 2, 3, 10, 11, 20, 30, 40, 41], text: 'ppq!ok' });
    expect(joined.written()).toEqual({ tokenIds: [1, 2, 3, 10, 11, 20, 30], text: 'ppq!' });
    // Not a Multiverse fork of either owner.
    expect([turn.stats(0).forks, conversation.stats(0).forks]).toEqual([0, 1]);

    // The turn's end frees its own sequence only; the conversation's stays as it was.
    turn.releaseAll();
    expect(engine.live).not.toContain(start.id);
    expect(layout(engine, joined.id)).toEqual(['1@0', '2@1', '3@2', '10@3', '11@4', '20@3', '30@5']);
    conversation.releaseAll();
    expect(engine.live).toEqual([]);
  });
});
