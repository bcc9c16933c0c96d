/**
 * The remote backend against stand-in servers played by a fetch double (no network): a server
 * that, like vLLM, says which stop ended a choice (`stop_reason`) and sends no logprobs or usage;
 * one that never answers (the timeout ends the run and aborts the request); and HTTP failures,
 * whose statuses map to GenerationError codes.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { GenerationError, remoteModel, type DoneEvent, type GenerationEvent, type JoinEvent, type TokenEvent } from '../src/index.js';

/** An SSE body of completion chunks, CRLF-framed as some servers do, ending with [DONE]. */
function sse(chunks: object[]): Response {
  const body = [...chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`), 'data: [DONE]\r\n\r\n'].join('');
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

/** A vLLM-like answer: the text in two chunks, then the finish with `stop_reason` (null: end of sequence). */
function answer(text: string, stopReason: string | null): Response {
  const half = Math.ceil(text.length / 2);
  return sse([
    { choices: [{ index: 0, text: text.slice(0, half), finish_reason: null }] },
    { choices: [{ index: 0, text: text.slice(half), finish_reason: 'stop', stop_reason: stopReason }] },
  ]);
}

/** Scripts by the prompt's ending: the root writes a goal, path 1 ends by end-of-sequence, path 2 by </Path>. */
const vllmLike: typeof fetch = async (_input, init) => {
  const { prompt } = JSON.parse(String(init?.body)) as { prompt: string };
  if (prompt.endsWith('<Path>1:')) return answer(' x', null);
  if (prompt.endsWith('<Path>2:')) return answer(' y', '</Path>');
  if (prompt.endsWith('<Conclusion>')) return answer(' xy', null);
  return answer(' <Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline>', '</Goal>');
};

describe('remoteModel over the wire', () => {
  it('follows a server that names the stop: an end of sequence in a path closes it, marked truncated', async () => {
    const events = await lastValueFrom(remoteModel('http://127.0.0.1:9/v1', { model: 'm', fetch: vllmLike }).events('q', { raw: true, seed: 1 }).pipe(toArray()));
    const join = events.find((e): e is JoinEvent => e.type === 'join')!;
    expect(join.paths.map((p) => [p.label, p.truncated])).toEqual([
      ['1', true],
      ['2', false],
    ]);
    const done = events.at(-1) as DoneEvent;
    expect(done.text).toBe(' <Parallel><Goal><Outline>1: x</Outline><Outline>2: y</Outline></Goal><Path>1: x</Path><Path>2: y</Path><Conclusion> xy');
    expect(done.finishReason).toBe('stop');
    // The closing tag of path 1 was written by the scheduler; path 2's by the model (restored from the stop).
    const closers = events.filter((e): e is TokenEvent => e.type === 'token' && e.text === '</Path>');
    expect(closers.map((t) => [t.branch, t.forced ?? false]).sort()).toEqual([
      ['0/0', true],
      ['0/1', false],
    ]);
    // No logprobs, no usage: ids are -1, logprobs NaN, tokens counted one per chunk.
    const sampled = events.filter((e): e is TokenEvent => e.type === 'token' && !e.forced);
    expect(sampled.every((t) => t.tokenId === -1 && Number.isNaN(t.logprob))).toBe(true);
    expect(done.usage.completionTokens).toBe(events.filter((e: GenerationEvent) => e.type === 'token').length);
    // The transcript holds one id per token event, the paths' in merge order.
    expect(done.tokenIds).toHaveLength(done.usage.completionTokens);
  });

  it('ends a run at its timeout and aborts the request a silent server holds', async () => {
    let signal: AbortSignal | undefined;
    const silent: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        signal = init!.signal!;
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const done = (await lastValueFrom(remoteModel('http://127.0.0.1:9/v1', { model: 'm', fetch: silent }).events('q', { timeoutMs: 50 }))) as DoneEvent;
    expect(done).toMatchObject({ finishReason: 'length', limit: 'timeout', text: '' });
    expect(signal?.aborted).toBe(true);
  });

  it('maps HTTP statuses to GenerationError codes', async () => {
    const codeOf = (status: number, body: object = {}) =>
      lastValueFrom(remoteModel('http://127.0.0.1:9/v1', { model: 'm', fetch: async () => new Response(JSON.stringify(body), { status }) }).events('q')).catch(
        (e: unknown) => (e instanceof GenerationError ? e.code : e),
      );
    expect(await codeOf(401)).toBe('INVALID_REQUEST');
    // 429 is "at capacity, retry later" (docs/protocol.md: OVERLOADED), unless the body names the engine's code.
    expect(await codeOf(429, { error: { message: 'slow down', type: 'rate_limit_error' } })).toBe('OVERLOADED');
    expect(await codeOf(429, { error: { message: 'too big', type: 'rate_limit_error', code: 'KV_EXHAUSTED' } })).toBe('KV_EXHAUSTED');
    expect(await codeOf(429, { error: { message: 'queue full', type: 'rate_limit_error', code: 'OVERLOADED' } })).toBe('OVERLOADED');
    expect(await codeOf(500)).toBe('ENGINE_ERROR');
    expect(await codeOf(503)).toBe('ENGINE_ERROR');
    expect(await codeOf(400, { error: { message: 'too long', code: 'context_length_exceeded' } })).toBe('CONTEXT_OVERFLOW');
    expect(await codeOf(400, { object: 'error', message: "This model's maximum context length is 4096 tokens" })).toBe('CONTEXT_OVERFLOW');
    expect(await codeOf(400, { error: { message: 'bad temperature' } })).toBe('INVALID_REQUEST');
  });

  it('maps a rate limit sent inside a stream to OVERLOADED, and our server’s own code to itself', async () => {
    const codeOf = (error: object) =>
      lastValueFrom(remoteModel('http://127.0.0.1:9/v1', { model: 'm', fetch: async () => sse([{ choices: [{ index: 0, text: 'a' }] }, { error }]) }).events('q')).catch(
        (e: unknown) => (e instanceof GenerationError ? e.code : e),
      );
    expect(await codeOf({ message: 'slow down', type: 'rate_limit_error' })).toBe('OVERLOADED');
    expect(await codeOf({ message: 'pool', type: 'rate_limit_error', code: 'KV_EXHAUSTED' })).toBe('KV_EXHAUSTED');
    expect(await codeOf({ message: 'boom', type: 'server_error' })).toBe('ENGINE_ERROR');
  });

  it('refuses what cannot travel as text: token ids and pickToken', async () => {
    const model = remoteModel('http://127.0.0.1:9/v1', { model: 'm', fetch: vllmLike });
    await expect(lastValueFrom(model.events([1, 2, 3]))).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(lastValueFrom(model.events('q', { pickToken: () => 0 }))).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
