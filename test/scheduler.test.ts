/**
 * The Multiverse scheduler driven by a forcing hook (sampling replaced by per-branch scripts):
 * the exact fork/merge sequence of a transcript nested three levels deep, its positions and every
 * token's logits against one dense pass under the Multiverse mask; then the guards and limits.
 */
import { lastValueFrom, mergeMap, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, mergeBranches, type DoneEvent, type GenerationEvent, type Model, type TokenEvent } from '../src/index.js';
import { multiverseLayout } from '../src/multiverse/attention.js';
import { resolveTagIds } from '../src/multiverse/tags.js';
import { denseForward } from './reference/dense-forward.js';
import { flatTokens, forceScripts } from './support/forcing.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { tinyModel, tinyModelWithoutTags } from './support/models.js';
import { NESTED } from './support/nested-transcript.js';
import { expectLogitsClose, loadForReference, type Loaded } from './support/oracle.js';

const PROMPT = [5, 17, 42, 99];

async function collect(model: Model, options: Parameters<Model['events']>[1]): Promise<GenerationEvent[]> {
  return lastValueFrom(model.events(PROMPT, options).pipe(toArray()));
}

const done = (events: GenerationEvent[]) => events.at(-1) as DoneEvent;
const shape = (events: GenerationEvent[]) =>
  events.filter((e) => e.type === 'fork' || e.type === 'join').map((e) => `${e.type} ${e.branch} [${e.type === 'fork' || e.type === 'join' ? e.paths.map((p) => `${p.branch}:${p.label}`).join(' ') : ''}]`);

describe('the Multiverse scheduler', () => {
  let model: Model;
  let ref: Loaded;
  let eos: number;

  beforeAll(async () => {
    const dir = tinyModel('qwen2', 'F32');
    // f32 KV: every logit is compared with the dense pass at 1e-4 (an f16 cache rounds K/V).
    model = await loadModel(dir, { kvSlots: 2048, contextLength: 1024, kvDtype: 'f32' });
    ref = await loadForReference(dir);
    eos = model.tokenizer.eosTokenIds[0];
  });
  afterAll(() => model.dispose());

  const expectFree = async () => {
    await new Promise((r) => setImmediate(r));
    model.engine.checkIntegrity();
    expect(model.kvStats().freeSlots).toBe(model.kvStats().totalSlots);
    expect(model.kvStats().sequences).toBe(0);
  };

  it('forks and merges a nested transcript exactly, and every logit equals the dense Multiverse pass', async () => {
    const forcing = forceScripts(model, NESTED, eos);
    const events = await collect(model, { pickToken: forcing.pickToken, maxTokens: 400 });
    expect(shape(events)).toEqual([
      'fork 0 [0/0:1 0/1:2]',
      'fork 0/0 [0/0/0:1.1 0/0/1:1.2]',
      'fork 0/0/1 [0/0/1/0:1 0/0/1/1:2]',
      'join 0/0/1 [0/0/1/0:1 0/0/1/1:2]',
      'join 0/0 [0/0/0:1.1 0/0/1:1.2]',
      'join 0 [0/0:1 0/1:2]',
    ]);
    const d = done(events);
    expect(d.finishReason).toBe('stop');
    // The transcript: each path opened by `<Path>{label}:`, each conclusion by `<Conclusion>`.
    expect(d.text).toBe(
      ' plan<Parallel><Goal><Outline>1: left</Outline><Outline>2: right</Outline></Goal>' +
        '<Path>1: L<Parallel><Goal><Outline>1.1: a</Outline><Outline>1.2: b</Outline></Goal>' +
        '<Path>1.1: x</Path><Path>1.2: y<Parallel><Goal><Outline>1: p</Outline><Outline>2: q</Outline></Goal>' +
        '<Path>1: s</Path><Path>2: t t t</Path><Conclusion> pq</Conclusion></Parallel></Path>' +
        '<Conclusion> ab</Conclusion></Parallel> l</Path><Path>2: R r r r r r</Path><Conclusion> both</Conclusion></Parallel> end',
    );

    const flat = flatTokens(events);
    expect(flat.map((e) => e.tokenId)).toEqual(d.tokenIds);
    const tags = resolveTagIds((t) => model.tokenizer.tokenId(t))!;
    const all = [...PROMPT, ...d.tokenIds];
    const layout = multiverseLayout(all, tags);
    expect(flat.map((e) => e.position)).toEqual(layout.positions.slice(PROMPT.length));

    const dense = denseForward(ref.checkpoint.config, ref.weights, all, layout.positions, layout.visible);
    const vocab = ref.checkpoint.config.vocabSize;
    const pending = new Map([...forcing.seen].map(([b, rows]) => [b, [...rows]]));
    flat.forEach((e, j) => {
      // Every token, forced or sampled, is scored by the row of the last token it can see: its
      // predecessor in its own context (for a later path's first token, the goal's end).
      const i = PROMPT.length + j;
      let k = i - 1;
      while (!layout.visible(i, k)) k--;
      const before = dense[k];
      expect(Math.abs(e.logprob - logSoftmaxAt(before, e.tokenId))).toBeLessThan(1e-3);
      if (!e.forced) expectLogitsClose(pending.get(e.branch)!.shift()!, [before], vocab);
    });

    // Critical path = positions used; # parallel = all tokens / critical path.
    expect(d.usage.criticalPathTokens).toBe(Math.max(...layout.positions) + 1 - PROMPT.length);
    expect(d.usage.completionTokens).toBe(d.tokenIds.length);
    expect(d.stats.parallelism).toBeCloseTo(d.tokenIds.length / d.usage.criticalPathTokens, 10);
    expect(d.stats.forks).toBe(3);
    expect(d.stats.merges).toBe(3);
    expect(d.stats.kvSlotsSaved).toBeGreaterThan(0);
    await expectFree();
  });

  it('keeps the KV in merge order: the final sequence holds the transcript at its Multiverse positions', async () => {
    // What each native sequence holds when the step loop releases it, read from the KV pool itself.
    const held = new Map<number, number[]>();
    const release = model.loop.release;
    model.loop.release = (seq: number) => {
      held.set(seq, [...model.engine.sequencePositions(seq)]);
      release.call(model.loop, seq);
    };
    try {
      const events = await collect(model, { pickToken: forceScripts(model, NESTED, eos).pickToken, maxTokens: 400 });
      const d = done(events);
      expect(d.finishReason).toBe('stop');
      const tags = resolveTagIds((t) => model.tokenizer.tokenId(t))!;
      const layout = multiverseLayout([...PROMPT, ...d.tokenIds], tags);
      // The root's last continuation holds every token (the end-of-sequence is never stepped):
      // paths in label order, each path's opener at its fork's position, each conclusion after the longest path.
      const longest = [...held.values()].reduce((a, b) => (b.length > a.length ? b : a));
      expect(longest).toEqual(layout.positions);
    } finally {
      model.loop.release = release;
    }
    await expectFree();
  });

  it('continues a session merge at the largest next position among its branches, the longest given first', async () => {
    // The continuation forks from node '0' again, so it is '0/0' and replays that script.
    const forcing = forceScripts(model, { '0/0': ' a b c d', '0/1': ' e' }, eos);
    const branchTokens: TokenEvent[] = [];
    const continuation = await lastValueFrom(
      model.session(PROMPT, { pickToken: forcing.pickToken, maxTokens: 16 }, (root) =>
        root.fork(2).pipe(
          tap((branch) => branch.tokens$.subscribe((t) => branchTokens.push(t))),
          mergeBranches(),
          mergeMap((merged) => merged.generate()),
          mergeMap((branch) => branch.tokens$),
          toArray(),
        ),
      ),
    );
    const lastPosition = (branch: string) => Math.max(...branchTokens.filter((t) => t.branch === branch).map((t) => t.position));
    expect(lastPosition('0/0')).toBeGreaterThan(lastPosition('0/1'));
    // Both branches start right after the prompt; the continuation right after the longer one.
    expect(branchTokens.filter((t) => t.branch !== '0/0' || t.position === PROMPT.length).map((t) => t.position)).toEqual([PROMPT.length, PROMPT.length]);
    expect(continuation.map((t) => t.position)).toEqual(continuation.map((_, i) => lastPosition('0/0') + 1 + i));
    await expectFree();
  });

  it('holds a goal with 1,000 outlines to maxPathsPerFork and finishes cleanly', async () => {
    const outlines = Array.from({ length: 1000 }, (_, i) => `<Outline>${i + 1}:</Outline>`).join('');
    const forcing = forceScripts(model, (b) => (b === '0' ? `<Parallel><Goal>${outlines}</Goal> ok</Conclusion></Parallel>` : ' w</Path>'), eos);
    const bigModel = await loadModel(tinyModel('qwen2', 'F32', { maxPositionEmbeddings: 16384 }), { kvSlots: 16384 });
    // Budget just past the goal: admission reserves 8 paths of what is left (not of 12,000 tokens).
    const goalLength = model.tokenizer.encode(`<Parallel><Goal>${outlines}</Goal>`, { addSpecialTokens: false }).length;
    const events = await lastValueFrom(bigModel.events(PROMPT, { pickToken: forcing.pickToken, maxTokens: goalLength + 100 }).pipe(toArray()));
    const fork = events.find((e) => e.type === 'fork');
    expect(fork?.type === 'fork' && fork.paths.length).toBe(8);
    expect(fork?.type === 'fork' && fork.dropped).toBe(992);
    expect(done(events).finishReason).toBe('stop');
    await new Promise((r) => setImmediate(r));
    expect(bigModel.kvStats().freeSlots).toBe(16384);
    await bigModel.dispose();
  });

  it('nests at most maxDepth deep; deeper goals are written sequentially', async () => {
    const open = '<Parallel><Goal><Outline>1: deeper</Outline></Goal>';
    const forcing = forceScripts(model, (b) => (b === '0' ? `${open}</Conclusion></Parallel>` : `${open}</Conclusion></Parallel></Path>`), eos);
    const events = await collect(model, { pickToken: forcing.pickToken, maxTokens: 900, multiverse: { maxDepth: 4 } });
    const d = done(events);
    expect(d.finishReason).toBe('stop');
    expect(d.stats.forks).toBe(4);
    expect(d.stats.forksRefused).toBe(1);
    expect(Math.max(...events.filter((e) => e.type === 'token').map((e) => e.branch.split('/').length - 1))).toBe(4);
    await expectFree();
  });

  it('refuses a fork near the budget and continues sequentially', async () => {
    const forcing = forceScripts(model, { '0': ' a<Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal> b c d e f g h i j k' }, eos);
    const goalLength = model.tokenizer.encode(' a<Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal>', { addSpecialTokens: false }).length;
    // 10 tokens of budget left after the goal: under the default margin of 16.
    const events = await collect(model, { pickToken: forcing.pickToken, maxTokens: goalLength + 10 });
    const d = done(events);
    expect(events.some((e) => e.type === 'fork')).toBe(false);
    expect(d.stats.forksRefused).toBe(1);
    expect(d.finishReason).toBe('length');
    expect(d.limit).toBe('maxTokens');
    expect(d.usage.criticalPathTokens).toBe(goalLength + 10);
    await expectFree();
  });

  it('ends the request cleanly when a path exhausts the critical-path budget', async () => {
    const forcing = forceScripts(model, { '0': '<Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal>', '0/0': ' a</Path>', '0/1': ' b'.repeat(200) }, eos);
    const events = await collect(model, { pickToken: forcing.pickToken, maxTokens: 60, multiverse: { forkMargin: 4 } });
    const d = done(events);
    expect(d.finishReason).toBe('length');
    expect(d.limit).toBe('maxTokens');
    expect(d.usage.criticalPathTokens).toBe(60);
    await expectFree();
  });

  it('limits the total tokens over all branches', async () => {
    const forcing = forceScripts(model, { '0': '<Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal>', '0/0': ' a'.repeat(100), '0/1': ' b'.repeat(100) }, eos);
    const d = done(await collect(model, { pickToken: forcing.pickToken, maxTokens: 200, maxTotalTokens: 70, multiverse: { forkMargin: 4 } }));
    expect(d.limit).toBe('maxTotalTokens');
    expect(d.usage.completionTokens).toBeLessThanOrEqual(71);
    await expectFree();
  });

  it('forks on tags written as text by a model without tag tokens', async () => {
    const plain = await loadModel(tinyModelWithoutTags(), { kvSlots: 1024, contextLength: 512 });
    expect(plain.tagMode.kind).toBe('text');
    const forcing = forceScripts(plain, { '0': ' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline></Goal> uv</Conclusion></Parallel>', '0/0': ' one</Path>', '0/1': ' two</Path>' }, plain.tokenizer.eosTokenIds[0]);
    const events = await lastValueFrom(plain.events(PROMPT, { pickToken: forcing.pickToken, maxTokens: 300 }).pipe(toArray()));
    expect(shape(events)).toEqual(['fork 0 [0/0:1 0/1:2]', 'join 0 [0/0:1 0/1:2]']);
    expect(done(events).text).toBe(' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline></Goal><Path>1: one</Path><Path>2: two</Path><Conclusion> uv</Conclusion></Parallel>');
    await new Promise((r) => setImmediate(r));
    expect(plain.kvStats().freeSlots).toBe(1024);
    await plain.dispose();
  });

  it('does not fork when disabled, or for a goal without outlines', async () => {
    const script = { '0': '<Parallel><Goal>no labels here</Goal> a<Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal> b' };
    const off = done(await collect(model, { pickToken: forceScripts(model, script, eos).pickToken, maxTokens: 200, multiverse: { enabled: false } }));
    expect(off.stats.forks).toBe(0);
    const on = await collect(model, { pickToken: forceScripts(model, { ...script, '0/0': ' p</Path>', '0/1': ' q</Path>' }, eos).pickToken, maxTokens: 200 });
    expect(shape(on)).toEqual(['fork 0 [0/0:1 0/1:2]', 'join 0 [0/0:1 0/1:2]']);
    await expectFree();
  });
});
