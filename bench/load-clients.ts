/**
 * The three kinds of client of the WebSocket load run: well-behaved (the TypeScript client, checks
 * its stream is complete and consistent), dropouts (leave mid-stream after a seeded number of
 * tokens, by close or by a dropped socket), and broken (malformed and oversized frames).
 */
import { lastValueFrom, tap, toArray } from 'rxjs';
import WebSocket from 'ws';
import { connect } from '../src/client/connect.js';
import type { GenerationEvent, TokenEvent } from '../src/rx/events.js';
import type { WireGenerateOptions } from '../src/protocol/messages.js';
import { MergeOrder } from '../src/rx/merge-order.js';

export interface Outcome {
  ok: boolean;
  /** Token events received. */
  tokens: number;
  /** Milliseconds from sending the request to its first token. */
  firstTokenMs?: number;
  /** What went wrong (or, for a dropout, how it left). */
  note: string;
}

/** Streams one request with connect() and checks it: a done event, as many tokens as usage says, the merge-order text. */
export async function wellBehaved(wsUrl: string, input: number[], options: WireGenerateOptions): Promise<Outcome> {
  const remote = await connect(wsUrl);
  const t0 = performance.now();
  let firstTokenMs: number | undefined;
  const events: GenerationEvent[] = await lastValueFrom(
    remote.events(input, options).pipe(
      tap((e) => {
        if (e.type === 'token') firstTokenMs ??= performance.now() - t0;
      }),
      toArray(),
    ),
  ).finally(() => remote.close());
  const tokens = events.filter((e): e is TokenEvent => e.type === 'token');
  const done = events.at(-1);
  if (done?.type !== 'done') return { ok: false, tokens: tokens.length, note: 'no done event' };
  let text = '';
  const order = new MergeOrder<TokenEvent>('0', (t) => (text += t.text));
  for (const t of tokens) order.push(t.branch, t);
  order.end();
  const problems = [
    tokens.length !== done.usage.completionTokens && `${tokens.length} tokens, usage says ${done.usage.completionTokens}`,
    text + done.tail !== done.text && 'merge-order text differs from done.text',
    events.filter((e) => e.type === 'fork').length !== done.stats.forks && 'fork events differ from stats.forks',
  ].filter(Boolean);
  return { ok: problems.length === 0, tokens: tokens.length, firstTokenMs, note: problems.join('; ') || done.finishReason };
}

/** Leaves after `after` token events: a clean close, or the socket dropped without one. */
export function dropout(wsUrl: string, input: number[], options: WireGenerateOptions, after: number, abrupt: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    let tokens = 0;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'generate', id: 1, input, options })));
    ws.on('message', (data) => {
      const e = JSON.parse(data.toString());
      if (e.type === 'done') return resolve({ ok: false, tokens, note: 'finished before leaving' });
      if (e.type !== 'token' || ++tokens < after) return;
      if (abrupt) ws.terminate();
      else ws.close();
      resolve({ ok: true, tokens, note: abrupt ? 'dropped' : 'closed' });
    });
    ws.on('error', (err) => resolve({ ok: false, tokens, note: err.message }));
  });
}

/**
 * Sends malformed frames and one over maxMessageBytes, expecting one error event each with its
 * code, then a valid request that must still complete; or (`overPayload`) one frame over
 * maxPayload, expecting the connection closed with 1009.
 */
export function broken(wsUrl: string, maxMessageBytes: number, maxPayload: number, overPayload: boolean): Promise<Outcome> {
  const frames: [string | Buffer, string][] = [
    ['{"type": "generate", "id": ', 'BAD_MESSAGE'],
    ['{"type": "generate", "id": 7, "input": {"not": "input"}}', 'BAD_MESSAGE'],
    ['{"type": "generate", "id": 8, "input": "hi", "options": {"maxTokens": "many"}}', 'BAD_MESSAGE'],
    [Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'BAD_MESSAGE'],
    ['{"type": "cancel", "id": "nobody"}', 'UNKNOWN_ID'],
    [JSON.stringify({ type: 'generate', id: 9, input: 'x'.repeat(maxMessageBytes) }), 'PAYLOAD_TOO_LARGE'],
  ];
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    const codes: string[] = [];
    ws.on('open', () => {
      if (overPayload) return ws.send('x'.repeat(maxPayload + 1));
      for (const [frame] of frames) ws.send(frame, { binary: Buffer.isBuffer(frame) });
      ws.send(JSON.stringify({ type: 'generate', id: 'after', input: [1, 2, 3], options: { maxTokens: 4 } }));
    });
    ws.on('message', (data) => {
      const e = JSON.parse(data.toString());
      if (e.type === 'error') codes.push(e.code);
      if (e.type !== 'done') return;
      const expected = frames.map(([, code]) => code).join(',');
      ws.close();
      resolve({ ok: codes.join(',') === expected, tokens: 0, note: codes.join(',') === expected ? 'errors as expected, then served' : `got ${codes.join(',')}` });
    });
    ws.on('close', (code) => {
      if (overPayload) resolve({ ok: code === 1009, tokens: 0, note: `closed with ${code}` });
    });
    ws.on('error', () => undefined);
  });
}
