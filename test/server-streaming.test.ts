/**
 * The server's streaming pieces on their own: the outbox holds and merges tokens for a slow socket
 * and keeps structural events in place; merged runs expand back losslessly on the client; merge
 * order and the branch tree rebuild the engine's own transcript of a nested Multiverse generation.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromWire } from '../src/client/wire-events.js';
import { BranchTree } from '../src/rx/branch-tree.js';
import { MergeOrder } from '../src/rx/merge-order.js';
import { Outbox } from '../src/server/ws/outbox.js';
import type { ServerEvent, WireTokenEvent, WireTokensEvent } from '../src/protocol/messages.js';
import { coalesceTokens } from '../src/protocol/write.js';
import { loadModel, type DoneEvent, type GenerationEvent, type Model, type TokenEvent } from '../src/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

const token = (branch: string, tokenId: number, text: string, extra: Partial<WireTokenEvent> = {}): WireTokenEvent => ({
  type: 'token',
  id: 'r',
  branch,
  tokenId,
  position: tokenId,
  text,
  logprob: -tokenId / 10,
  ...extra,
});

class FakeSocket {
  bufferedAmount = 0;
  readonly sent: ServerEvent[] = [];
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
}

describe('Outbox', () => {
  it('sends straight through while the socket keeps up', () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, { coalesceAboveBytes: 100, maxQueuedBytes: 1000, onOverflow: () => undefined });
    outbox.push(token('0', 1, 'a'));
    outbox.push(token('0', 2, 'b'));
    expect(socket.sent).toEqual([token('0', 1, 'a'), token('0', 2, 'b')]);
    outbox.close();
  });

  it('merges tokens per branch while the socket is backed up, and sends them before the next structural event', () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, { coalesceAboveBytes: 100, maxQueuedBytes: 10_000, onOverflow: () => undefined });
    socket.bufferedAmount = 500;
    for (const t of [token('0/0', 1, 'a'), token('0/1', 2, 'x'), token('0/0', 3, 'b'), token('0/1', 4, 'y', { forced: true }), token('0/0', 5, 'c')]) outbox.push(t);
    expect(socket.sent).toEqual([]);
    expect(outbox.queuedBytes).toBeGreaterThan(500);
    const join: ServerEvent = { type: 'join', id: 'r', branch: '0', paths: [] };
    outbox.push(join);
    expect(socket.sent).toEqual([
      { type: 'token', id: 'r', branch: '0/0', tokenIds: [1, 3, 5], positions: [1, 3, 5], logprobs: [-0.1, -0.3, -0.5], text: 'abc' },
      { type: 'token', id: 'r', branch: '0/1', tokenIds: [2, 4], positions: [2, 4], logprobs: [-0.2, -0.4], text: 'xy', forced: [1] },
      join,
    ]);
    outbox.close();
  });

  it('sends what it holds once the socket drains', async () => {
    const socket = new FakeSocket();
    const outbox = new Outbox(socket, { coalesceAboveBytes: 100, maxQueuedBytes: 10_000, onOverflow: () => undefined });
    socket.bufferedAmount = 500;
    outbox.push(token('0', 1, 'a'));
    outbox.push(token('0', 2, 'b'));
    await new Promise((r) => setTimeout(r, 60));
    expect(socket.sent).toEqual([]);
    socket.bufferedAmount = 0;
    await new Promise((r) => setTimeout(r, 60));
    expect(socket.sent).toMatchObject([{ tokenIds: [1, 2], text: 'ab' }]);
    outbox.close();
  });

  it('reports overflow once when a client stops reading', () => {
    const socket = new FakeSocket();
    let overflows = 0;
    const outbox = new Outbox(socket, { coalesceAboveBytes: 10, maxQueuedBytes: 200, onOverflow: () => overflows++ });
    socket.bufferedAmount = 100;
    for (let i = 0; i < 20; i++) outbox.push(token('0', i, 'word '));
    expect(overflows).toBe(1);
    outbox.close();
  });

  it('merged runs expand back on the client to the same tokens, the text on the last', () => {
    const run = [token('0/1', 7, 'he', { topLogprobs: { 7: -0.7, 8: -1 } }), token('0/1', 8, '', { forced: true, topLogprobs: { 8: -0.8 } }), token('0/1', 9, 'llo', { topLogprobs: { 9: -0.9 } })];
    const merged: WireTokensEvent = JSON.parse(JSON.stringify(coalesceTokens(run)));
    const back = fromWire(merged) as TokenEvent[];
    const strip = ({ id: _id, text: _t, ...rest }: WireTokenEvent) => rest;
    expect(back.map(({ text: _t, ...rest }) => rest)).toEqual(run.map(strip));
    expect(back.map((t) => t.text)).toEqual(['', '', 'hello']);
  });
});

describe('merge order and the branch tree', () => {
  let model: Model;
  let events: GenerationEvent[];
  let done: DoneEvent;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 1024 });
    const scripts = {
      '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end',
      '0/0': ' a<Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal> xy</Conclusion></Parallel></Path>',
      '0/0/0': ' x x x x</Path>',
      '0/0/1': ' y</Path>',
      '0/1': ' b</Path>',
    };
    const pickToken = forceScripts(model, scripts, model.tokenizer.eosTokenIds[0]).pickToken;
    events = await lastValueFrom(model.events([3, 4], { pickToken, maxTokens: 300 }).pipe(toArray()));
    done = events.at(-1) as DoneEvent;
  });
  afterAll(() => model.dispose());

  it('streams tokens in the order of the merged transcript', () => {
    const ordered: number[] = [];
    const order = new MergeOrder<TokenEvent>('0', (t) => ordered.push(t.tokenId));
    for (const e of events) if (e.type === 'token') order.push(e.branch, e);
    order.end();
    // Paths decoded side by side: the stream order differs from the transcript's.
    const streamed = events.flatMap((e) => (e.type === 'token' ? [e.tokenId] : []));
    expect(streamed).not.toEqual(done.tokenIds);
    expect(ordered).toEqual(done.tokenIds);
  });

  it('builds the branch tree: labels, outlines, nested paths, texts that add up to the transcript', () => {
    const builder = new BranchTree('0');
    for (const e of events) builder.apply(e);
    const tree = builder.build(done.tail);
    expect(tree.text).toBe(done.text);
    expect(tree.tokens).toBe(done.tokenIds.length);
    const [fork] = tree.forks;
    expect(fork.goal).toBe('<Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal>');
    expect(fork.paths.map((p) => [p.branch, p.label, p.outline])).toEqual([['0/0', '1', 'a'], ['0/1', '2', 'b']]);
    expect(tree.text.slice(fork.at)).toMatch(/^<Path>1:/);
    expect(fork.paths[1].text).toBe('<Path>2: b</Path>');
    expect(fork.paths[0].forks[0].paths.map((p) => p.text)).toEqual(['<Path>1: x x x x</Path>', '<Path>2: y</Path>']);
    // Without fork and join events (a session's branches) the same tree shape is inferred from branch paths.
    const inferred = new BranchTree('0');
    for (const e of events) if (e.type === 'token') inferred.apply(e);
    const bare = inferred.build(done.tail);
    expect(bare.text).toBe(done.text);
    expect(bare.forks[0].paths[0].forks[0].paths.map((p) => p.text)).toEqual(['<Path>1: x x x x</Path>', '<Path>2: y</Path>']);
  });
});
