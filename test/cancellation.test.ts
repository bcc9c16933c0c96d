/**
 * Cancelling a request in each phase (mid-prefill, mid-fork with paths running) returns the KV
 * pool to fully free, and a request running beside it sees no error and the same result as alone.
 */
import { firstValueFrom, filter, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DoneEvent, type Model } from '../src/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

const SCRIPTS = {
  '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end',
  '0/0': ' a a a a a a a a a a a a</Path>',
  '0/1': ' b b b b b b b b b b b b b b b b</Path>',
};

describe('cancellation', () => {
  let model: Model;
  let eos: number;
  let solo: DoneEvent;

  const bystander = () => lastValueFrom(model.events([9, 8, 7], { pickToken: forceScripts(model, SCRIPTS, eos).pickToken, maxTokens: 300 })) as Promise<DoneEvent>;
  const expectFree = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    model.engine.checkIntegrity();
    expect(model.kvStats()).toMatchObject({ freeSlots: model.kvStats().totalSlots, sequences: 0, segments: 0 });
  };

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024, maxStepTokens: 16 });
    eos = model.tokenizer.eosTokenIds[0];
    solo = await bystander();
  });
  afterAll(() => model.dispose());

  it('mid-fork: while both paths run', async () => {
    const other = bystander();
    const victim = model.events([1, 2, 3], { pickToken: forceScripts(model, SCRIPTS, eos).pickToken, maxTokens: 300 });
    // Let go after a few tokens of path 0/1, with both paths still decoding.
    await firstValueFrom(victim.pipe(filter((e) => e.type === 'token' && e.branch === '0/1'), take(3), toArray()));
    const done = await other;
    expect(done.tokenIds).toEqual(solo.tokenIds);
    await expectFree();
  });

  it('mid-prefill: a long prompt cut while its chunks are being stepped', async () => {
    const other = bystander();
    const before = model.loop.tokensStepped;
    let events = 0;
    const sub = model.events(Array(200).fill(5), { maxTokens: 4 }).subscribe(() => events++);
    // 16 tokens a step, shared with the bystander's decodes: 64 stepped means the prefill is under
    // way, and 200 prompt tokens mean it is far from done.
    while (model.loop.tokensStepped - before < 64) await new Promise((r) => setImmediate(r));
    sub.unsubscribe();
    expect(events).toBe(0);
    expect((await other).tokenIds).toEqual(solo.tokenIds);
    await expectFree();
  });
});
