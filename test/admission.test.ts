/**
 * KV admission: the ledger's rules on hand-computed numbers (FIFO, no overbooking, bounded queue,
 * fail fast, leaving the queue), then the library API on a pool too small for its load: requests
 * wait instead of failing mid-stream, finish with the tokens they give when run alone, and leave
 * the pool free.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvAdmission } from '../src/engine/admission.js';
import { GenerationError, loadModel, type DoneEvent, type GenerationEvent, type Model } from '../src/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree, settled } from './support/pool.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as GenerationError).code;
  }
  return undefined;
};

describe('KvAdmission', () => {
  it('grants in order without overbooking, and a released reservation lets the head of the queue in', async () => {
    const pool = new KvAdmission(100, { maxQueued: 2 });
    const a = pool.reserve(60, true);
    const b = pool.reserve(50, true); // 60 + 50 > 100: waits
    const c = pool.reserve(10, true); // would fit, but FIFO: waits behind b
    expect([a.isGranted, b.isGranted, c.isGranted]).toEqual([true, false, false]);
    expect(codeOf(() => pool.reserve(1, true))).toBe('OVERLOADED'); // the queue holds 2
    expect(codeOf(() => pool.reserve(1, false))).toBe('OVERLOADED'); // others wait: no jumping the queue
    expect(codeOf(() => pool.reserve(101, true))).toBe('KV_EXHAUSTED'); // could never run
    expect(pool.stats()).toMatchObject({ reservedSlots: 60, running: 1, queued: 2, refused: 2 });
    a.release();
    await Promise.all([b.granted, c.granted]);
    expect(pool.stats()).toMatchObject({ reservedSlots: 60, running: 2, queued: 0, admitted: 3, waited: 2 });
    expect(b.waitedMs).toBeGreaterThan(0);
    expect(a.waitedMs).toBe(0);
  });

  it('grows a running reservation from unreserved slots only, and charges against it', () => {
    const pool = new KvAdmission(100);
    const a = pool.reserve(40, true);
    pool.reserve(50, true);
    expect(a.grow(20)).toBe(false); // 10 unreserved
    expect(a.grow(10)).toBe(true);
    expect(a.charge(50)).toBe(true);
    expect(a.charge(1)).toBe(false); // 50 of 50 used, nothing left to grow into
    expect(pool.stats()).toMatchObject({ reservedSlots: 100, growthRefused: 2 });
  });

  it('lets a waiting request leave the queue (CANCELLED) and fails the rest on close (MODEL_DISPOSED)', async () => {
    const pool = new KvAdmission(10);
    const a = pool.reserve(10, true);
    const b = pool.reserve(5, true);
    const c = pool.reserve(5, true);
    b.release();
    await expect(b.granted).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(pool.stats().queued).toBe(1);
    pool.close();
    await expect(c.granted).rejects.toMatchObject({ code: 'MODEL_DISPOSED' });
    a.release();
    expect(pool.stats()).toMatchObject({ reservedSlots: 0, running: 0 });
  });
});

describe('KvAdmission when running requests wait to grow', () => {
  it('preempts the latest admitted request that can rerun, then grants the growth it blocked', async () => {
    const pool = new KvAdmission(100);
    const a = pool.reserve(40, true);
    const c = pool.reserve(10, true);
    const b = pool.reserve(40, true);
    let stopped = '';
    a.onPreempt = () => (stopped += 'a');
    b.onPreempt = () => (stopped += 'b');
    c.onPreempt = () => (stopped += 'c');
    const cGrows = c.growUntil(15); // 90 + 15 > 100: waits
    const aGrows = a.growUntil(30); // waits
    expect(stopped).toBe('');
    const bGrows = b.growUntil(20); // every running request waits now: b, the latest admitted, is preempted
    expect(stopped).toBe('b');
    expect(await bGrows).toBe(false);
    expect(pool.stats()).toMatchObject({ preemptions: 1, growthRefused: 0, growthWaited: 3, reservedSlots: 90, running: 3 });
    b.release(); // the stopped run lets go of its KV: 50 free, first fit in order: c (15), then a (30)
    expect([await cGrows, await aGrows]).toEqual([true, true]);
    const again = pool.reserve(40, true, true); // b asks again, at the head of the queue
    const later = pool.reserve(5, true);
    expect([again.isGranted, later.isGranted]).toEqual([false, false]);
    expect(pool.stats()).toMatchObject({ reservedSlots: 95, queued: 2, admitted: 3 });
    a.release();
    await Promise.all([again.granted, later.granted]);
    expect(pool.stats()).toMatchObject({ reservedSlots: 70, running: 3, admitted: 4, waited: 1, preemptions: 1 });
  });

  it('refuses at once a growth that could not fit the pool even alone, whatever else runs', async () => {
    const pool = new KvAdmission(100);
    const a = pool.reserve(40, true);
    pool.reserve(30, true);
    expect(await a.growUntil(61)).toBe(false); // 40 + 61 > 100
    expect(pool.stats()).toMatchObject({ growthRefused: 1, growthWaited: 0, growing: 0 });
  });

  it('refuses the latest growth when no running request can rerun, or the only one waits on held KV', async () => {
    const pool = new KvAdmission(100);
    const a = pool.reserve(40, true);
    const b = pool.reserve(40, true);
    const aGrows = a.growUntil(30);
    expect(await b.growUntil(30)).toBe(false); // neither can rerun: b's growth is refused
    b.release();
    expect(await aGrows).toBe(true);
    a.release();

    const chat = pool.reserve(50, true);
    chat.charge(50);
    chat.hold(); // a conversation held between turns: 50 slots taken by nothing that runs
    const alone = pool.reserve(30, true);
    alone.onPreempt = () => {
      throw new Error('preempting the only running request frees nothing it waits for');
    };
    expect(await alone.growUntil(30)).toBe(false);
    expect(pool.stats()).toMatchObject({ growthRefused: 2, preemptions: 0 });
  });

  it('admits no new request while a running one waits to grow', () => {
    const pool = new KvAdmission(100);
    const a = pool.reserve(60, true);
    pool.reserve(30, true);
    void a.growUntil(20);
    expect(pool.reserve(5, true).isGranted).toBe(false); // 5 would fit, but the fork goes first
    expect(pool.stats()).toMatchObject({ growing: 1, queued: 1 });
  });
});

describe('admission in the library API', () => {
  let model: Model;
  let eos: number;
  const prompt = (i: number) => Array.from({ length: 20 }, (_, j) => 5 + ((i * 7 + j) % 400));
  // Each request reserves 20 + 40 + 16 = 76 slots: three at a time fit 256.
  const options = { temperature: 0, maxTokens: 40, ignoreEos: true };
  const events = (i: number, extra = {}) => lastValueFrom(model.events(prompt(i), { ...options, ...extra }).pipe(toArray()));
  const done = (es: GenerationEvent[]) => es.at(-1) as DoneEvent;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 256, contextLength: 256, maxStepTokens: 64, maxQueuedRequests: 16 });
    eos = model.tokenizer.eosTokenIds[0];
  });
  afterAll(() => model.dispose());

  it('queues 12 concurrent requests on a pool that holds 3: all complete, with the tokens they give alone', async () => {
    const together = await Promise.all(Array.from({ length: 12 }, (_, i) => events(i)));
    expect(together.map((es) => done(es).usage.completionTokens)).toEqual(Array(12).fill(40));
    expect(together.filter((es) => done(es).stats.queueWaitMs > 0).length).toBeGreaterThanOrEqual(9);
    for (const i of [0, 11]) expect(done(await events(i)).tokenIds).toEqual(done(together[i]).tokenIds);
    expect(model.admissionStats()).toMatchObject({ reservedSlots: 0, running: 0, queued: 0 });
    await expectPoolFree(model);
  });

  it('fails fast with OVERLOADED when asked not to wait, and when the queue is full', async () => {
    const running = [0, 1, 2].map((i) => events(i));
    await new Promise((r) => setImmediate(r));
    const fast = await events(3, { waitForKv: false }).catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(GenerationError);
    expect(fast).toMatchObject({ code: 'OVERLOADED' });
    // 16 wait; the 17th is refused, the others complete.
    const waiting = Array.from({ length: 17 }, (_, i) => events(4 + i).catch((e: unknown) => e));
    const outcomes = await Promise.all([...running, ...waiting]);
    const refused = outcomes.filter((o) => o instanceof GenerationError);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ code: 'OVERLOADED', message: expect.stringMatching(/queue is full/) });
    await expectPoolFree(model);
  });

  it('takes a request out of the queue when it is unsubscribed while waiting', async () => {
    const running = [0, 1, 2].map((i) => events(i));
    await new Promise((r) => setImmediate(r));
    const seen: GenerationEvent[] = [];
    const sub = model.events(prompt(3), options).subscribe((e) => seen.push(e));
    await new Promise((r) => setImmediate(r));
    expect(model.admissionStats().queued).toBe(1);
    sub.unsubscribe();
    expect(model.admissionStats().queued).toBe(0);
    await Promise.all(running);
    await settled(model);
    expect(seen).toEqual([]);
    await expectPoolFree(model);
  });

  it('reserves a planned session up front: 6 sessions of 3 branches each on a pool that holds 1 at a time all complete', async () => {
    // 20 + 3 × (40 + 16) + 16 = 204 slots a session.
    const run = (i: number) =>
      lastValueFrom(model.session(prompt(i), options, (root) => root.fork(3).pipe(toArray()), { branches: 3 }).pipe(toArray()));
    const branches = await Promise.all(Array.from({ length: 6 }, (_, i) => run(i)));
    expect(branches.every((bs) => bs.flat().length === 3)).toBe(true);
    await expectPoolFree(model);
  });

  it('pauses a Multiverse fork until its paths can be reserved, and writes it sequentially only when waiting could never succeed', async () => {
    const plan = forceScripts(model, { '0': '<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal>', '0/0': ' a</Path>', '0/1': ' b</Path>' }, eos);
    const forking = (extra = {}) =>
      lastValueFrom(model.events(prompt(0), { ...options, ignoreEos: false, pickToken: plan.pickToken, ...extra }).pipe(toArray())).then(done);
    const alone = await forking();
    expect([alone.stats.forks, alone.stats.forksRefused]).toEqual([1, 0]);
    // A request reserving 20 + 144 + 16 = 180 slots runs beside it: 76 + 180 fill the pool, so the
    // fork's extra paths wait until it ends; the fork then happens and gives the same text.
    const before = model.admissionStats();
    let holderEnded = 0;
    const holder = events(1, { maxTokens: 144 }).then((es) => ((holderEnded = performance.now()), es));
    const crowded = forking().then((d) => [d, performance.now()] as const);
    const [[d, crowdedEnded]] = await Promise.all([crowded, holder]);
    expect([d.stats.forks, d.stats.forksRefused]).toEqual([1, 0]);
    expect(d.text).toBe(alone.text);
    expect(crowdedEnded).toBeGreaterThan(holderEnded);
    expect(model.admissionStats().growthWaited).toBe(before.growthWaited + 1);
    // Alone with a budget whose fork could never fit the pool (20 + 220 + 16 reserved, 2 paths of ~200 more): sequential.
    const big = await forking({ maxTokens: 220 });
    expect([big.stats.forks, big.stats.forksRefused]).toEqual([0, 1]);
    expect(model.admissionStats().growthRefused).toBeGreaterThan(before.growthRefused);
    await expectPoolFree(model);
  });
});
