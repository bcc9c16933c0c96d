/**
 * The TypeScript client against our server on loopback: `connect().events()` streams exactly the
 * events `model.events()` gives in process for a forced Multiverse transcript, requests share one
 * connection, unsubscribing cancels remotely and frees the KV, errors keep their codes and classes.
 */
import { firstValueFrom, filter, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationError, loadModel, type DoneEvent, type GenerationEvent, type Model } from '../src/index.js';
import { connect, type MultiverseConnection } from '../src/client/index.js';
import { ProtocolError } from '../src/protocol/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

const SCRIPTS = {
  '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end',
  '0/0': ' a<Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal> xy</Conclusion></Parallel></Path>',
  '0/0/0': ' x x</Path>',
  '0/0/1': ' y</Path>',
  '0/1': ' b b b b b</Path>',
};

describe('connect()', () => {
  let model: Model;
  let server: MultiverseServer;
  let remote: MultiverseConnection;
  let wsUrl: string;
  let eos: number;

  /** KV stats once the last sequence is released (releases land between engine steps). */
  const settled = async () => {
    while (model.kvStats().sequences > 0) await new Promise((r) => setTimeout(r, 10));
    return model.kvStats();
  };
  const expectFree = async () => expect(await settled()).toMatchObject({ freeSlots: 2048, sequences: 0 });

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024, maxStepTokens: 16 });
    eos = model.tokenizer.eosTokenIds[0];
    // Requests with topK 1 follow the forced transcript: a pickToken hook cannot travel as JSON.
    server = createServer(model, {
      port: 0,
      apiKey: 'k',
      prepareOptions: (o) => (o.topK === 1 ? { ...o, pickToken: forceScripts(model, SCRIPTS, eos).pickToken } : o),
    });
    ({ wsUrl } = await server.listen());
    remote = await connect(wsUrl, { apiKey: 'k' });
  });
  afterAll(async () => {
    await remote.close();
    await server.close();
    await model.dispose();
  });

  it('streams the same events as model.events for a nested Multiverse transcript', async () => {
    const options = { maxTokens: 300, seed: 9, topK: 1, topLogprobs: 2 };
    const local = await lastValueFrom(model.events('hi', { ...options, pickToken: forceScripts(model, SCRIPTS, eos).pickToken }).pipe(toArray()));
    const got = await lastValueFrom(remote.events('hi', options).pipe(toArray()));
    expect(got.filter((e) => e.type === 'fork').map((e) => e.branch)).toEqual(['0', '0/0']);
    // Everything equal but the done event's fork and merge timings, which differ run to run.
    const timings = (e: GenerationEvent) => (e.type === 'done' ? { ...e, stats: { ...e.stats, forkLatencyMs: [], mergeLatencyMs: [] } } : e);
    expect(got.map(timings)).toEqual(local.map(timings));
    await expectFree();
  });

  it('runs concurrent requests over one connection', async () => {
    const runs = await Promise.all([1, 2, 3].map((seed) => lastValueFrom(remote.events([4, 5, 6], { maxTokens: 6, seed, ignoreEos: true }))));
    for (const [i, done] of runs.entries()) {
      const local = (await lastValueFrom(model.events([4, 5, 6], { maxTokens: 6, seed: i + 1, ignoreEos: true }))) as DoneEvent;
      expect((done as DoneEvent).tokenIds).toEqual(local.tokenIds);
    }
  });

  it('cancels on unsubscribe: the server stops the request and frees its KV', async () => {
    const first = await firstValueFrom(remote.events([1, 2, 3], { maxTokens: 500, ignoreEos: true }).pipe(filter((e) => e.type === 'token'), take(3), toArray()));
    expect(first).toHaveLength(3);
    await expectFree();
    expect(server.metrics.render()).toMatch(/^multiverse_requests_finished_total\{source="ws",outcome="cancelled"\} 1$/m);
  });

  it('fails with the server code: GenerationError for engine codes', async () => {
    const err = await lastValueFrom(remote.events('hi', { maxTokens: 0 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationError);
    expect(err).toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('rejects a wrong api key with UNAUTHORIZED', async () => {
    const err = await connect(wsUrl, { apiKey: 'nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('fails running requests with CONNECTION_CLOSED when the connection ends', async () => {
    const other = await connect(wsUrl, { apiKey: 'k' });
    const running = lastValueFrom(other.events([1, 2], { maxTokens: 500, ignoreEos: true })).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    await other.close();
    expect(await running).toMatchObject({ code: 'CONNECTION_CLOSED' });
    await expect(lastValueFrom(other.events('hi'))).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    await expectFree();
  });
});
