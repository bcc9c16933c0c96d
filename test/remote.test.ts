/**
 * The remote backend against our own OpenAI-compatible server on 127.0.0.1, serving the tiny
 * model with forced transcripts: remote events have the embedded model's fork/join structure,
 * branch paths and final text (a 2-path block, then a block nested three levels deep); fork is
 * parallel requests sharing the prefix and merge a continuation with the combined text (checked
 * on the request bodies); sessions and their operators (vote, bestOf, mapBranch, mergeBranches)
 * work unchanged and get the embedded engine's logprobs; cancellation aborts the requests and the
 * server's KV pool returns to fully free; errors are GenerationError values, failing their
 * request alone.
 *
 * Server-side forcing: the server sees every path as a request of its own, so a request's script
 * is found through its seed (requestSeed: the run's seed, the branch path, the branch's request
 * count), and a branch's later requests (after a merge) continue its script where the last one
 * stopped, exactly as the embedded scheduler's pickToken walks one script per branch.
 */
import { filter, lastValueFrom, mergeMap, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestOf, GenerationError, loadModel, mapBranch, mergeBranches, reduceBranches, remoteModel, vote, type DoneEvent, type GenerateOptions, type ForkEvent, type GenerationEvent, type JoinEvent, type Model, type RemoteModelOptions } from '../src/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { requestSeed } from '../src/remote/setup.js';
import { flatTokens, forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';
import { NESTED } from './support/nested-transcript.js';

const KEY = 'sekret';
const SEED = 7;
const TWO_PATHS: Record<string, string> = {
  '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end',
  '0/0': ' a a</Path>',
  '0/1': ' b b b</Path>',
};

/** A fetch that records the body of every completion request on its way to the server. */
function recordingFetch(): { calls: Record<string, unknown>[]; fetch: typeof fetch } {
  const calls: Record<string, unknown>[] = [];
  return {
    calls,
    fetch: (input, init) => {
      if (String(input).endsWith('/completions')) calls.push(JSON.parse(String(init?.body)));
      return fetch(input, init);
    },
  };
}

/** Fork and join events, their token counts zeroed (a remote count is approximate). */
function structure(events: GenerationEvent[]): (ForkEvent | JoinEvent)[] {
  return events.flatMap((e): (ForkEvent | JoinEvent)[] => {
    if (e.type === 'fork') return [e];
    if (e.type === 'join') return [{ ...e, paths: e.paths.map((p) => ({ ...p, tokens: 0 })) }];
    return [];
  });
}

describe('remoteModel against our server on loopback', () => {
  let model: Model;
  let server: MultiverseServer;
  let baseUrl: string;
  let eos: number;
  /** Scripts by run seed, then branch path; tokens consumed so far by run seed and branch. */
  const scripts = new Map<number, Record<string, string>>();
  const consumed = new Map<string, number>();

  /** Forces requests whose seed names a scripted branch; others sample. The server never forks itself. */
  const prepareOptions = (o: GenerateOptions): GenerateOptions => {
    for (const [runSeed, byBranch] of scripts) {
      for (const branch of Object.keys(byBranch)) {
        for (let round = 0; round < 8; round++) {
          if (o.seed !== requestSeed(runSeed, branch, round)) continue;
          const key = `${runSeed}:${branch}`;
          const tokens = model.tokenizer.encode(byBranch[branch], { addSpecialTokens: false });
          const pickToken = () => {
            const i = consumed.get(key) ?? 0;
            consumed.set(key, i + 1);
            return tokens[i] ?? eos;
          };
          return { ...o, pickToken, multiverse: { enabled: false } };
        }
      }
    }
    return { ...o, multiverse: { enabled: false } };
  };
  const force = (runSeed: number, byBranch: Record<string, string>) => scripts.set(runSeed, byBranch);
  const remote = (options: RemoteModelOptions = {}) => remoteModel(baseUrl, { apiKey: KEY, ...options });

  /** Completion requests the server saw cancelled (its client went away) so far. */
  const cancelledRequests = () => {
    const m = /^multiverse_requests_finished_total\{source="completions",outcome="cancelled"\} (\d+)$/m.exec(server.metrics.render());
    return m ? Number(m[1]) : 0;
  };
  const expectFree = async () => {
    for (let i = 0; i < 100 && model.kvStats().sequences > 0; i++) await new Promise((r) => setTimeout(r, 10));
    model.engine.checkIntegrity();
    expect(model.kvStats()).toMatchObject({ freeSlots: model.kvStats().totalSlots, sequences: 0 });
  };

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024 });
    eos = model.tokenizer.eosTokenIds[0];
    server = createServer(model, { port: 0, modelId: 'tiny', apiKey: KEY, prepareOptions });
    baseUrl = `${(await server.listen()).url}/v1`;
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
  });

  it('streams a forced 2-path transcript with the embedded structure, paths and text; fork and merge are requests over shared text', async () => {
    force(SEED, TWO_PATHS);
    const { calls, fetch } = recordingFetch();
    const local = await lastValueFrom(model.events('hi', { maxTokens: 200, pickToken: forceScripts(model, TWO_PATHS, eos).pickToken }).pipe(toArray()));
    const got = await lastValueFrom(remote({ fetch }).events('hi', { maxTokens: 200, seed: SEED }).pipe(toArray()));

    expect(structure(got)).toEqual(structure(local));
    const branches = (events: GenerationEvent[]) => [...new Set(events.filter((e) => e.type === 'token').map((e) => e.branch))].sort();
    expect(branches(got)).toEqual(branches(local));
    const done = got.at(-1) as DoneEvent;
    const localDone = local.at(-1) as DoneEvent;
    expect(done.text).toBe(localDone.text);
    expect(done.finishReason).toBe('stop');
    // The token events' texts in merge order, then the tail, make up the text (as in process).
    expect(flatTokens(got).map((t) => t.text).join('') + done.tail).toBe(done.text);
    expect(done.stats).toMatchObject({ forks: 1, merges: 1 });
    expect(done.usage.criticalPathTokens).toBeLessThan(done.usage.completionTokens);

    // The wire: root to </Goal>; two paths on the same prefix; the merge re-sends prefix + paths in label order.
    const prompt = '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n';
    const prefix = `${prompt} go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal>`;
    expect(calls.map((c) => [c.prompt, c.stop])).toEqual([
      [prompt, ['</Goal>']],
      [`${prefix}<Path>1:`, ['</Goal>', '</Path>']],
      [`${prefix}<Path>2:`, ['</Goal>', '</Path>']],
      [`${prefix}<Path>1: a a</Path><Path>2: b b b</Path><Conclusion>`, ['</Goal>']],
    ]);
    expect(calls.every((c) => c.model === 'tiny' && c.stream === true)).toBe(true);
    await expectFree();
  });

  it("runs maxPathsPerFork 'auto' as the embedded model runs all of its paths at once", async () => {
    const seed = SEED + 100;
    force(seed, TWO_PATHS);
    const local = await lastValueFrom(model.events('hi', { maxTokens: 200, pickToken: forceScripts(model, TWO_PATHS, eos).pickToken }).pipe(toArray()));
    const got = await lastValueFrom(remote().events('hi', { maxTokens: 200, seed, multiverse: { maxPathsPerFork: 'auto' } }).pipe(toArray()));
    expect(structure(got)).toEqual(structure(local));
    expect((got.at(-1) as DoneEvent).text).toBe((local.at(-1) as DoneEvent).text);
    await expectFree();
  });

  it('runs a block nested three levels deep as the embedded model does', async () => {
    force(SEED + 1, NESTED);
    const local = await lastValueFrom(model.events('hi', { raw: true, maxTokens: 400, pickToken: forceScripts(model, NESTED, eos).pickToken }).pipe(toArray()));
    const got = await lastValueFrom(remote().events('hi', { raw: true, maxTokens: 400, seed: SEED + 1 }).pipe(toArray()));
    expect(structure(got).map((e) => `${e.type} ${e.branch}`)).toEqual([
      'fork 0',
      'fork 0/0',
      'fork 0/0/1',
      'join 0/0/1',
      'join 0/0',
      'join 0',
    ]);
    expect(structure(got)).toEqual(structure(local));
    expect((got.at(-1) as DoneEvent).text).toBe((local.at(-1) as DoneEvent).text);
    // Stages work over remote events too: the root's map stage carries both paths.
    force(SEED + 2, NESTED);
    const stages = await lastValueFrom(remote().generate('hi', { raw: true, maxTokens: 400, seed: SEED + 2 }).pipe(toArray()));
    expect(stages.map((s) => s.kind)).toEqual(['sequential', 'map', 'sequential', 'done']);
    await expectFree();
  });

  it('keeps the guards and limits: maxDepth writes deeper goals straight on; maxTokens bounds the critical path; stop strings', async () => {
    force(SEED + 10, NESTED);
    const options = { raw: true, maxTokens: 400, multiverse: { maxDepth: 1 } };
    const local = await lastValueFrom(model.events('hi', { ...options, pickToken: forceScripts(model, NESTED, eos).pickToken }).pipe(toArray()));
    const got = await lastValueFrom(remote().events('hi', { ...options, seed: SEED + 10 }).pipe(toArray()));
    expect(structure(got)).toEqual(structure(local));
    const [done, localDone] = [got.at(-1) as DoneEvent, local.at(-1) as DoneEvent];
    expect(done.text).toBe(localDone.text);
    expect(done.stats.forksRefused).toBe(localDone.stats.forksRefused);
    expect(done.stats.forksRefused).toBe(1);

    // 14 tokens to </Goal>, the opener (one token remotely), 2 tokens of each path: the budget is spent.
    force(SEED + 11, TWO_PATHS);
    const limited = await lastValueFrom(remote().events('hi', { maxTokens: 17, seed: SEED + 11, multiverse: { forkMargin: 0 } }).pipe(toArray()));
    const end = limited.at(-1) as DoneEvent;
    expect(end).toMatchObject({ finishReason: 'length', limit: 'maxTokens', usage: { criticalPathTokens: 17 } });
    expect(limited.find((e) => e.type === 'join')).toMatchObject({ paths: [{ tokens: 3, truncated: true }, { tokens: 3, truncated: true }] });

    // Stop strings apply to the root's text across the merge, as in the engine.
    force(SEED + 12, TWO_PATHS);
    const stop = ['</Parallel>'];
    const stopped = (await lastValueFrom(remote().events('hi', { stop, seed: SEED + 12 }))) as DoneEvent;
    const localStopped = (await lastValueFrom(model.events('hi', { stop, pickToken: forceScripts(model, TWO_PATHS, eos).pickToken }))) as DoneEvent;
    expect(stopped).toMatchObject({ finishReason: 'stop', text: localStopped.text });
    expect(stopped.text.endsWith('</Conclusion>')).toBe(true);
    await expectFree();
  });

  it('runs sessions unchanged: vote and bestOf over remote branches, with the embedded logprobs', async () => {
    const answers = { '0/0': ' 42', '0/1': ' 7', '0/2': ' 42' };
    force(SEED + 3, answers);
    const options = { raw: true, maxTokens: 8, seed: SEED + 3 };
    const voted = await lastValueFrom(remote().session('hi', options, (root) => root.fork(3).pipe(vote((r) => r.text.trim()))));
    expect(voted.answer).toBe('42');
    expect(voted.votes).toEqual({ 42: 2, 7: 1 });
    expect(voted.winners.map((r) => r.branch)).toEqual(['0/0', '0/2']);

    // The server scores the forced tokens on the same prompt: the embedded session's logprobs.
    force(SEED + 4, answers);
    const best = await lastValueFrom(remote().session('hi', { ...options, seed: SEED + 4 }, (root) => root.fork(3).pipe(bestOf())));
    const pickToken = forceScripts(model, answers, eos).pickToken;
    const localBest = await lastValueFrom(model.session('hi', { ...options, pickToken }, (root) => root.fork(3).pipe(bestOf())));
    expect(best.branch).toBe(localBest.branch);
    expect(best.text).toBe(localBest.text);
    // Without return_tokens_as_token_ids the server names tokens by text: ids are -1.
    expect(best.tokenIds.every((id) => id === -1)).toBe(true);
    const closeTo = localBest.logprobs.slice(0, best.logprobs.length);
    best.logprobs.forEach((lp, i) => expect(lp).toBeCloseTo(closeTo[i], 4));
    await expectFree();
  });

  it('cuts remote branches with mapBranch: the requests are aborted, the results truncated', async () => {
    force(SEED + 9, { '0/0': ` x${' x'.repeat(300)}`, '0/1': ` y${' y'.repeat(300)}` });
    const results = await lastValueFrom(
      remote().session('hi', { raw: true, maxTokens: 400, seed: SEED + 9 }, (root) => root.fork(2).pipe(mapBranch(take(3)), reduceBranches((rs) => rs))),
    );
    expect(results.map((r) => r.truncated)).toEqual([true, true]);
    expect(results.every((r) => r.tokenIds.length >= 3 && r.tokenIds.length < 300)).toBe(true);
    await expectFree();
  });

  it('merges session branches as one continuation request with the combined text', async () => {
    force(SEED + 5, { '0/0': ' left', '0/1': ' right' });
    const { calls, fetch } = recordingFetch();
    const summary = await lastValueFrom(
      remote({ fetch }).session('hi', { raw: true, maxTokens: 4, seed: SEED + 5 }, (root) =>
        root.fork({ prompts: [' A:', ' B:'] }).pipe(
          mergeBranches(),
          mergeMap((merged) => merged.generate()),
          reduceBranches(([r]) => r),
        ),
      ),
    );
    expect(summary.branch).toBe('0/0');
    expect(calls.map((c) => c.prompt)).toEqual(['hi A:', 'hi B:', 'hi A: left B: right']);
    await expectFree();
  });

  it('aborts every request on unsubscribe; the server frees all of its KV', async () => {
    force(SEED + 6, { ...TWO_PATHS, '0/0': ` a${' a'.repeat(300)}</Path>`, '0/1': ` b${' b'.repeat(300)}</Path>` });
    const { calls, fetch } = recordingFetch();
    const cancelledBefore = cancelledRequests();
    const early = await lastValueFrom(
      remote({ fetch })
        .events('hi', { maxTokens: 900, seed: SEED + 6 })
        .pipe(
          filter((e) => e.type === 'token' && e.branch === '0/1'),
          take(3),
          toArray(),
        ),
    );
    expect(early).toHaveLength(3);
    expect(calls).toHaveLength(3);
    // Both paths' requests were running: the server saw them cancelled.
    await expectFree();
    expect(cancelledRequests() - cancelledBefore).toBe(2);
    // Nothing else is sent once the run was let go.
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toHaveLength(3);
  });

  it('fails with GenerationError: a wrong api key, a server that is gone; the process and other requests go on', async () => {
    const wrongKey = await lastValueFrom(remote({ apiKey: 'wrong' }).events('hi', { maxTokens: 2 })).catch((e: unknown) => e);
    expect(wrongKey).toBeInstanceOf(GenerationError);
    expect(wrongKey).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/api key/) });

    const gone = createServer(model, { port: 0 });
    const goneUrl = `${(await gone.listen()).url}/v1`;
    await gone.close();
    const unreachable = await lastValueFrom(remoteModel(goneUrl, { model: 'tiny' }).events('hi', { maxTokens: 2 })).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(GenerationError);
    expect(unreachable).toMatchObject({ code: 'ENGINE_ERROR', message: expect.stringMatching(/cannot reach/) });

    // One path's request refused (429) fails its run alone: the sibling is aborted, a concurrent run completes.
    force(SEED + 7, TWO_PATHS);
    force(SEED + 8, TWO_PATHS);
    const refusing: typeof fetch = (input, init) =>
      String(init?.body).includes('<Path>2:') ? Promise.resolve(new Response('{"error":{"message":"full"}}', { status: 429 })) : fetch(input, init);
    const [failed, ok] = await Promise.all([
      lastValueFrom(remote({ fetch: refusing }).events('hi', { maxTokens: 200, seed: SEED + 7 })).catch((e: unknown) => e),
      lastValueFrom(remote().events('hi', { maxTokens: 200, seed: SEED + 8 })),
    ]);
    expect(failed).toMatchObject({ code: 'OVERLOADED' });
    expect((ok as DoneEvent).text).toContain('<Path>2: b b b</Path>');
    await expectFree();
  });
});
