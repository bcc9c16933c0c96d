/**
 * Lanes (`multiverse.lanes`, filled from the step cost under `maxPathsPerFork: 'auto'`): at most
 * that many paths of a fork decode at once, the others wait in label order. The issue's invariant:
 * the transcript and every logit are those of running all the paths at once. The oracle is the
 * all-at-once run of the same forced script on the same engine; the CPU kernels compute each row
 * on its own (no reduction across the rows of a step), so the two must agree bit for bit. Run
 * twice: with the tiny model's default split (a step's loops on one thread, or one forward per
 * thread over its share of the sequences) and with every loop split over the pool
 * (`parallelMinWork: 0`: multi-row matmul tiles, as larger models run).
 */
import { lastValueFrom, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DoneEvent, type GenerateOptions, type GenerationEvent, type MapStage, type Model, type Stage } from '../src/index.js';
import { lanesFor } from '../src/engine/step-cost.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree } from './support/pool.js';

const PROMPT = [5, 17, 42, 99];
const OUTLINES = ['1', '2', '3', '4', '5'];
const ROOT = ` go<Parallel><Goal>${OUTLINES.map((l) => `<Outline>${l}: step</Outline>`).join('')}</Goal> done</Conclusion></Parallel>`;
/** Paths of different lengths, so lanes free up at different times; '0/3' ends early with an end-of-sequence. */
const PATHS: Record<string, string> = {
  '0/0': `${' a'.repeat(6)}</Path>`,
  '0/1': ' b b</Path>',
  '0/2': `${' c'.repeat(9)}</Path>`,
  '0/3': ' d d',
  '0/4': `${' e'.repeat(4)}</Path>`,
};
const SCRIPTS = { '0': ROOT, ...PATHS };

describe.each([{}, { parallelMinWork: 0 }])('lanes: paths of a fork decoded a few at a time (%j)', (loadOptions) => {
  let model: Model;
  let eos: number;
  /** Sequences in each native step, in order. */
  const rowsPerStep: number[] = [];

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, ...loadOptions });
    eos = model.tokenizer.eosTokenIds[0];
    const step = model.engine.step.bind(model.engine);
    // The binding's method is read-only on its prototype: shadowed on this engine only.
    Object.defineProperty(model.engine, 'step', {
      value: (items: Parameters<typeof step>[0]) => {
        rowsPerStep.push(items.length);
        return step(items);
      },
    });
  });
  afterAll(() => model.dispose());

  async function run(lanes?: number, extra: GenerateOptions = {}) {
    const forcing = forceScripts(model, SCRIPTS, eos);
    rowsPerStep.length = 0;
    const multiverse = { ...(lanes === undefined ? {} : { lanes }), ...extra.multiverse };
    const events = await lastValueFrom(model.events(PROMPT, { pickToken: forcing.pickToken, maxTokens: 200, topLogprobs: 3, seed: 1, ...extra, multiverse }).pipe(toArray()));
    return { events, seen: forcing.seen, rows: [...rowsPerStep] };
  }

  /** Everything a run reports, branch by branch (the interleaving of branches is what lanes change). */
  function byBranch(events: GenerationEvent[]) {
    const tokens = new Map<string, unknown[]>();
    for (const e of events) if (e.type === 'token') tokens.set(e.branch, [...(tokens.get(e.branch) ?? []), e]);
    return { tokens, forkJoin: events.filter((e) => e.type === 'fork' || e.type === 'join'), done: events.at(-1) as DoneEvent };
  }

  it('gives the transcript, every logit, logprob and position of running all the paths at once', async () => {
    const all = await run();
    const reference = byBranch(all.events);
    expect(reference.done.finishReason).toBe('stop');
    expect(reference.done.text).toBe(
      ' go<Parallel><Goal><Outline>1: step</Outline><Outline>2: step</Outline><Outline>3: step</Outline><Outline>4: step</Outline><Outline>5: step</Outline></Goal>' +
        '<Path>1: a a a a a a</Path><Path>2: b b</Path><Path>3: c c c c c c c c c</Path><Path>4: d d</Path><Path>5: e e e e</Path><Conclusion> done</Conclusion></Parallel>',
    );
    expect(Math.max(...all.rows)).toBe(OUTLINES.length);
    for (const lanes of [1, 2, 3]) {
      const waves = await run(lanes);
      const got = byBranch(waves.events);
      expect(got.done.text).toBe(reference.done.text);
      expect(got.done.tokenIds).toEqual(reference.done.tokenIds);
      expect({ ...got.done, stats: undefined }).toEqual({ ...reference.done, stats: undefined });
      expect(got.forkJoin).toEqual(reference.forkJoin);
      // Token events (id, text, position, logprob, top logprobs, forced) and the logits every pick saw, bit for bit.
      expect(got.tokens).toEqual(reference.tokens);
      expect([...waves.seen.keys()].sort()).toEqual([...all.seen.keys()].sort());
      for (const [branch, rows] of all.seen) expect(waves.seen.get(branch), branch).toEqual(rows);
      // No step carries more paths than the lanes (the root waits while its paths run), and the lanes are used.
      expect(Math.max(...waves.rows)).toBe(lanes);
      await expectPoolFree(model);
    }
  });

  it('starts a waiting path only when a running one ends, in label order', async () => {
    const { events } = await run(2);
    const order = events.filter((e) => e.type === 'token' && e.branch !== '0').map((e) => (e as { branch: string }).branch);
    const first = (b: string) => order.indexOf(b);
    const last = (b: string) => order.lastIndexOf(b);
    // '0/1' (2 tokens) ends first: '0/2' takes its lane; '0/0' ends next: '0/3'; '0/3' ends: '0/4'.
    expect(first('0/2')).toBeGreaterThan(last('0/1'));
    expect(first('0/2')).toBeLessThan(last('0/0'));
    expect(first('0/3')).toBeGreaterThan(last('0/0'));
    expect(first('0/4')).toBeGreaterThan(last('0/3'));
    expect(first('0/4')).toBeLessThan(last('0/2'));
  });

  it('a path ended by an end-of-sequence frees its lane, and a let-go waiting path takes its turn and frees it', async () => {
    const forcing = forceScripts(model, SCRIPTS, eos);
    const letGo = (m: MapStage) =>
      m.branches$.subscribe((b) => {
        // Subscribed and let go at the fork, long before a lane frees up for it.
        if (b.branch === '0/2') b.tokens$.subscribe().unsubscribe();
        else b.tokens$.subscribe();
      });
    const stages = await lastValueFrom(
      model
        .generate(PROMPT, { pickToken: forcing.pickToken, maxTokens: 200, multiverse: { lanes: 1 } })
        .pipe(
          tap<Stage>((s) => s.kind === 'map' && letGo(s)),
          toArray(),
        ),
    );
    const done = stages.at(-1)!;
    expect(done.kind === 'done' && done.done.finishReason).toBe('stop');
    expect(done.kind === 'done' && done.done.text).toContain('<Path>2: b b</Path><Path>3:</Path><Path>4: d d</Path><Path>5: e e e e</Path><Conclusion> done');
    await expectPoolFree(model);
  });

  it('a run that ends while paths wait joins them unopened, and gives back all of its KV', async () => {
    // The budget runs out inside '0/2' (the third path, in its own wave; 13 tokens with its opener
    // and close, '0/0' 10): '0/3' and '0/4' never start.
    const goal = model.tokenizer.encode(ROOT.slice(0, ROOT.indexOf('</Goal>') + '</Goal>'.length), { addSpecialTokens: false }).length;
    const before = model.admissionStats();
    const { events, rows } = await run(1, { maxTokens: goal + 11, multiverse: { forkMargin: 0 } });
    const done = events.at(-1) as DoneEvent;
    expect(done.finishReason).toBe('length');
    expect(done.limit).toBe('maxTokens');
    const join = events.find((e) => e.type === 'join');
    expect(join?.type === 'join' && join.paths.map((p) => [p.label, p.tokens > 0, p.truncated])).toEqual([
      ['1', true, false],
      ['2', true, false],
      ['3', true, true],
      ['4', false, true],
      ['5', false, true],
    ]);
    expect(events.some((e) => e.type === 'token' && (e.branch === '0/3' || e.branch === '0/4'))).toBe(false);
    expect(Math.max(...rows)).toBe(1);
    await expectPoolFree(model);
    const after = model.admissionStats();
    expect(after.reservedSlots).toBe(0);
    expect(after.running).toBe(0);
    expect(after.admitted).toBe(before.admitted + 1);
    expect(after.growthRefused).toBe(before.growthRefused);
  });

  it("'auto' opens every outline and decodes in the step cost's lanes", async () => {
    const outlines = Array.from({ length: 12 }, (_, i) => `<Outline>${i + 1}: s</Outline>`).join('');
    const forcing = forceScripts(model, (b) => (b === '0' ? ` go<Parallel><Goal>${outlines}</Goal> ok</Conclusion></Parallel>` : ' z</Path>'), eos);
    // Measured first (and kept), so that the measurement's own steps are not counted below.
    const lanes = lanesFor(await model.stepCost());
    rowsPerStep.length = 0;
    const events = await lastValueFrom(model.events(PROMPT, { pickToken: forcing.pickToken, maxTokens: 200, multiverse: { maxPathsPerFork: 'auto' } }).pipe(toArray()));
    const fork = events.find((e) => e.type === 'fork');
    expect(fork?.type === 'fork' && [fork.paths.length, fork.dropped]).toEqual([12, 0]);
    expect((events.at(-1) as DoneEvent).finishReason).toBe('stop');
    expect(Math.max(...rowsPerStep)).toBe(Math.min(lanes, 12));
    await expectPoolFree(model);
  });

  it('checks the options: lanes an integer >= 1, maxPathsPerFork a number or auto', async () => {
    // A mistyped option throws at the call; a value out of range fails the request.
    const failure = async (multiverse: unknown) => {
      try {
        await lastValueFrom(model.events(PROMPT, { maxTokens: 2, multiverse: multiverse as GenerateOptions['multiverse'] }));
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(await failure({ lanes: 0 })).toBe('multiverse.lanes must be an integer >= 1, got 0');
    expect(await failure({ lanes: 1.5 })).toBe('multiverse.lanes must be an integer >= 1, got 1.5');
    expect(await failure({ maxPathsPerFork: 'all' })).toBe("options.multiverse.maxPathsPerFork must be a number or 'auto'");
    expect(await failure({ maxPathsPerFork: -1 })).toBe("multiverse.maxPathsPerFork must be an integer >= 0 or 'auto', got -1");
    await expectPoolFree(model);
  });
});

describe("'auto' where the step cost cannot be measured", () => {
  it('runs the fork all at once when the pool cannot hold the measurement now', async () => {
    // Its own folder, so no curve measured for another model of this process is reused; a pool
    // too small for the measurement (16 sequences of 32 tokens and their steps).
    const model = await loadModel(tinyModel('qwen2', 'F32', { seed: 29 }), { kvSlots: 600 });
    try {
      const rows: number[] = [];
      const step = model.engine.step.bind(model.engine);
      Object.defineProperty(model.engine, 'step', { value: (items: Parameters<typeof step>[0]) => (rows.push(items.length), step(items)) });
      const eos = model.tokenizer.eosTokenIds[0];
      const forcing = forceScripts(model, SCRIPTS, eos);
      const events = await lastValueFrom(model.events(PROMPT, { pickToken: forcing.pickToken, maxTokens: 60, multiverse: { maxPathsPerFork: 'auto' } }).pipe(toArray()));
      expect((events.at(-1) as DoneEvent).finishReason).toBe('stop');
      expect(Math.max(...rows)).toBe(OUTLINES.length);
      await expect(model.stepCost()).rejects.toThrow('KV');
      await expectPoolFree(model);
    } finally {
      await model.dispose();
    }
  });
});

describe('lanesFor: the widest step that is still nearly free', () => {
  const cost = (ms: number[]) => ({ rows: [1, 2, 4, 8, 16], ms, contextTokens: 32, backend: 'cpu-test' });

  it('takes the largest row count within a quarter of a one-row step per extra row', () => {
    // 1 + 0.25 × (r − 1): 1.25 at 2, 1.75 at 4, 2.75 at 8, 4.75 at 16.
    expect(lanesFor(cost([1, 1.2, 1.7, 2.7, 4.7]))).toBe(16);
    expect(lanesFor(cost([1, 1.2, 1.7, 2.8, 4.7]))).toBe(16);
    expect(lanesFor(cost([1, 1.2, 1.7, 2.8, 5]))).toBe(4);
    expect(lanesFor(cost([1, 1.3, 1.8, 3, 6]))).toBe(1);
    expect(lanesFor(cost([1, 2, 4, 8, 16]))).toBe(1);
  });
});
