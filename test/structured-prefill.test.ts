/**
 * Structured prefill and scoring against two oracles: what the scheduler reported when it wrote a
 * nested transcript by fork and merge (token logprobs, positions), and one dense float64 pass with
 * the Multiverse mask and positions (every row). Then prefixes, separators and bad input.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationError, loadModel, type DoneEvent, type Model } from '../src/index.js';
import { RequestContext } from '../src/engine/request-context.js';
import { Rng } from '../src/engine/rng.js';
import { multiverseLayout, type MultiverseLayout } from '../src/multiverse/attention.js';
import { prefillStructured } from '../src/multiverse/structured-prefill.js';
import { resolveTagIds, type MultiverseTagIds } from '../src/multiverse/tags.js';
import { denseForward } from './reference/dense-forward.js';
import { flatTokens, forceScripts } from './support/forcing.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { tinyModel, tinyModelWithoutTags } from './support/models.js';
import { NESTED } from './support/nested-transcript.js';
import { expectLogitsClose, loadForReference, range, type Loaded } from './support/oracle.js';

const PROMPT = [5, 17, 42, 99];

describe('structured prefill and score', () => {
  let model: Model;
  let ref: Loaded;
  let tags: MultiverseTagIds;
  let vocab: number;
  let events: Awaited<ReturnType<typeof generateNested>>;
  /** PROMPT and what the scheduler generated from it, in merge order. */
  let transcript: number[];
  let layout: MultiverseLayout;
  let dense: Float64Array[];

  async function generateNested() {
    const forcing = forceScripts(model, NESTED, model.tokenizer.eosTokenIds[0]);
    return lastValueFrom(model.events(PROMPT, { pickToken: forcing.pickToken, maxTokens: 400, topLogprobs: 3 }).pipe(toArray()));
  }

  beforeAll(async () => {
    const dir = tinyModel('qwen2', 'F32');
    // An f32 KV cache: the dense comparison is at the engine invariant's 1e-4 (an f16 cache rounds K/V).
    model = await loadModel(dir, { kvSlots: 2048, contextLength: 1024, kvDtype: 'f32' });
    ref = await loadForReference(dir);
    vocab = ref.checkpoint.config.vocabSize;
    tags = resolveTagIds((t) => model.tokenizer.tokenId(t))!;
    events = await generateNested();
    transcript = [...PROMPT, ...(events.at(-1) as DoneEvent).tokenIds];
    layout = multiverseLayout(transcript, tags);
    dense = denseForward(ref.checkpoint.config, ref.weights, transcript, layout.positions, layout.visible);
  });
  afterAll(() => model.dispose());

  const expectFree = async (m = model) => {
    await new Promise((r) => setImmediate(r));
    m.engine.checkIntegrity();
    expect(m.kvStats().freeSlots).toBe(m.kvStats().totalSlots);
    expect(m.kvStats().sequences).toBe(0);
  };

  const prefill = async (tokens: number[], tagIds: MultiverseTagIds | undefined = tags, m = model) => {
    const request = new RequestContext(m.loop);
    return { request, result: await prefillStructured(request, tokens, tagIds, Rng.fromSeed(1)) };
  };

  /** The last token that token i sees under the Multiverse mask: its predecessor in its own context. */
  const visiblePredecessor = (i: number) => {
    let k = i - 1;
    while (!layout.visible(i, k)) k--;
    return k;
  };

  /** Index of the n-th (0-based) occurrence of `token` in the transcript. */
  const nth = (token: number, n: number) => transcript.reduce<number[]>((at, t, i) => (t === token ? [...at, i] : at), [])[n];

  it('scores a generated transcript with the logprobs the fork/merge run reported, and later path openers as the dense pass does', async () => {
    const flat = flatTokens(events);
    expect(flat.some((e) => e.forced) && flat.some((e) => !e.forced)).toBe(true);
    const scored = await model.score(transcript, { topLogprobs: 3 });
    expect(scored.tokens.map((t) => t.tokenId)).toEqual(transcript);
    expect(scored.tokens[0].logprob).toBeUndefined();
    // The run scored a later path's forced opener from the fork point, before the path before it
    // had ended; score follows the flattened transcript, as the training loss does.
    const laterOpeners = range(1, transcript.length).filter((i) => transcript[i] === tags.pathOpen && transcript[i - 1] === tags.pathClose);
    expect(laterOpeners).toHaveLength(3);
    flat.forEach((e, j) => {
      const i = PROMPT.length + j;
      const t = scored.tokens[i];
      expect(t.position).toBe(e.position);
      const expected = laterOpeners.includes(i) ? logSoftmaxAt(dense[i - 1], transcript[i]) : e.logprob;
      expect(Math.abs(t.logprob! - expected)).toBeLessThan(1e-4);
      if (!laterOpeners.includes(i)) expect(Object.keys(t.topLogprobs!)).toEqual(Object.keys(e.topLogprobs!));
    });
    const logprobs = scored.tokens.slice(1).map((t) => t.logprob!);
    const total = logprobs.reduce((a, b) => a + b, 0);
    expect(scored.totalLogprob).toBeCloseTo(total, 10);
    expect(scored.meanLogprob).toBeCloseTo(total / logprobs.length, 10);
    await expectFree();
  });

  it('lays the transcript out as the collator does, gives each token its dense row, and steps paths together', async () => {
    const stepsBefore = model.loop.steps;
    const { request, result } = await prefill(transcript);
    // Every path of a block steps in the same native step as its siblings: root goal, outer
    // paths, 1.x paths, innermost paths, then the three merged continuations (innermost first).
    expect(model.loop.steps - stepsBefore).toBe(7);
    expect(result.open).toEqual([]);
    expect(result.seq.branch).toBe('0');
    expect(result.positions).toEqual(layout.positions);
    expect([...model.engine.sequencePositions(result.seq.id)]).toEqual(layout.positions);
    expect(result.seq.nextPos).toBe(layout.positions.at(-1)! + 1);
    expect(result.predecessors[0]).toBe(-1);
    for (let i = 1; i < transcript.length; i++) expect(result.predecessors[i]).toBe(visiblePredecessor(i));
    for (let i = 0; i < transcript.length; i++) expectLogitsClose(result.logits[i], [dense[i]], vocab);
    expectLogitsClose(result.seq.lastLogits!, [dense.at(-1)!], vocab);
    request.releaseAll();
    await expectFree();
  });

  it('prefills a transcript cut inside a nested path and says where generation goes on', async () => {
    // Cut inside path 2 of the innermost block (the fifth <Path>), three tokens after it opened.
    const cut = nth(tags.pathOpen, 4) + 3;
    expect(layout.pathSpan[cut - 1]).toBe(layout.pathSpan[nth(tags.pathOpen, 4)]);
    const prefix = transcript.slice(0, cut);
    const { request, result } = await prefill(prefix);
    expect(result.seq.branch).toBe('0/0/1/1');
    expect(result.open.map((b) => [b.parent.branch, b.paths.map((p) => p.branch)])).toEqual([
      ['0', ['0/0']],
      ['0/0', ['0/0/0', '0/0/1']],
      ['0/0/1', ['0/0/1/0', '0/0/1/1']],
    ]);
    // The open path holds exactly what its last token sees, at the collator's positions.
    const seen = range(0, cut).filter((k) => layout.visible(cut - 1, k));
    expect([...model.engine.sequencePositions(result.seq.id)]).toEqual(seen.map((k) => layout.positions[k]));
    expect(result.positions).toEqual(layout.positions.slice(0, cut));
    expect(result.seq.nextPos).toBe(layout.positions[cut - 1] + 1);
    expectLogitsClose(result.seq.lastLogits!, [dense[cut - 1]], vocab);
    for (let i = 0; i < cut; i++) expectLogitsClose(result.logits[i], [dense[i]], vocab);
    request.releaseAll();

    const whole = await model.score(transcript);
    const part = await model.score(prefix);
    part.tokens.forEach((t, i) => expect(Math.abs((t.logprob ?? 0) - (whole.tokens[i].logprob ?? 0))).toBeLessThan(1e-5));
    await expectFree();
  });

  it('prefills a transcript cut between two paths: the next path forks from the goal', async () => {
    // Cut right after path 1 of the innermost block (the second </Path>).
    const cut = nth(tags.pathClose, 1) + 1;
    const { request, result } = await prefill(transcript.slice(0, cut));
    const innermost = result.open.at(-1)!;
    expect(result.seq).toBe(innermost.parent);
    expect(innermost.paths.map((p) => p.branch)).toEqual(['0/0/1/0']);
    // The parent's last token is the block's </Goal>: the row a next path's first token follows.
    const goalEnd = nth(tags.goalClose, 2);
    expectLogitsClose(result.seq.lastLogits!, [dense[goalEnd]], vocab);
    expect(result.seq.nextPos).toBe(layout.positions[goalEnd] + 1);
    request.releaseAll();
    await expectFree();
  });

  it('gives separators before <Path> to the path and before <Conclusion> to the merge, at the tag position', async () => {
    const { parallelOpen: P, goalOpen: G, goalClose: g, pathOpen: A, pathClose: a, conclusionOpen: C, conclusionClose: c, parallelClose: p } = tags;
    const NL = 10; // any non-tag token: a newline in Multiverse-32B's transcripts
    const tokens = [5, P, G, 20, g, NL, A, 21, 22, a, NL, A, 23, a, NL, C, 24, c, p, 25];
    // By hand: </Goal> at 4; each path's newline and <Path> take 5; path 1 ends at 8, path 2 at 7;
    // the conclusion's newline and <Conclusion> take 9, the largest next position.
    const positions = [0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 5, 5, 6, 7, 9, 9, 10, 11, 12, 13];
    const predecessors = [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18];
    // The collator differs only at the separators after a </Path> (10 and 14), which it counts on from that path.
    expect(multiverseLayout(tokens, tags).positions).toEqual(positions.map((x, i) => (i === 10 ? 9 : i === 14 ? 8 : x)));

    const { request, result } = await prefill(tokens);
    expect(result.positions).toEqual(positions);
    expect(result.predecessors).toEqual(predecessors);
    expect([...model.engine.sequencePositions(result.seq.id)]).toEqual(positions);
    // Fork/merge visibility: the two paths, each with its newline (5..9 and 10..13), never see each other.
    const pathOf = (i: number) => (i >= 5 && i <= 9 ? 1 : i >= 10 && i <= 13 ? 2 : 0);
    const mask = (q: number, k: number) => k <= q && !(pathOf(q) && pathOf(k) && pathOf(q) !== pathOf(k));
    const reference = denseForward(ref.checkpoint.config, ref.weights, tokens, positions, mask);
    for (let i = 0; i < tokens.length; i++) expectLogitsClose(result.logits[i], [reference[i]], vocab);
    request.releaseAll();
    await expectFree();
  });

  it('rejects a malformed transcript with INVALID_REQUEST and the format error, using no KV', async () => {
    const bad = [5, tags.parallelOpen, tags.pathOpen, 6];
    const formatError = (() => {
      try {
        multiverseLayout(bad, tags);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(formatError).toMatch(/^token 2: unexpected <Path>/);
    await expect(model.score(bad)).rejects.toMatchObject({ name: 'GenerationError', code: 'INVALID_REQUEST', message: formatError });
    await expect(prefill(bad)).rejects.toBeInstanceOf(GenerationError);
    await expect(model.score([5])).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(model.score(transcript, { topLogprobs: -1 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expectFree();
  });

  it('fails with CONTEXT_OVERFLOW before stepping and with KV_EXHAUSTED when paths outgrow the pool, freeing everything', async () => {
    const small = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 64 });
    expect(small.info.contextLength).toBe(64);
    await expect(small.score(range(0, 70).map((i) => 5 + (i % 50)))).rejects.toMatchObject({ code: 'CONTEXT_OVERFLOW' });
    // Three paths of 22 tokens: positions stay under 30, but 74 slots do not fit a pool of 64.
    const path = [tags.pathOpen, ...Array<number>(20).fill(21), tags.pathClose];
    const wide = [tags.parallelOpen, tags.goalOpen, 20, tags.goalClose, ...path, ...path, ...path, tags.conclusionOpen, 24, tags.conclusionClose, tags.parallelClose];
    expect(Math.max(...multiverseLayout(wide, tags).positions)).toBeLessThan(64);
    await expect(small.score(wide)).rejects.toMatchObject({ code: 'KV_EXHAUSTED' });
    await expectFree(small);
    await small.dispose();
  });

  it('prefills sequentially for a model that writes the tags as text', async () => {
    const plain = await loadModel(tinyModelWithoutTags(), { kvSlots: 512, contextLength: 256 });
    const text = plain.tokenizer.encode('<Parallel><Goal><Outline>1: a</Outline></Goal><Path>1: x</Path><Conclusion> y</Conclusion></Parallel>', { addSpecialTokens: false });
    const scored = await plain.score(text);
    expect(scored.tokens.map((t) => t.position)).toEqual(range(0, text.length));
    const { request, result } = await prefill(text, undefined, plain);
    expect(result.predecessors).toEqual(range(-1, text.length - 1));
    expect([...plain.engine.sequencePositions(result.seq.id)]).toEqual(range(0, text.length));
    request.releaseAll();
    await expectFree(plain);
    await plain.dispose();
  });
});
