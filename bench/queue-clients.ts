/**
 * Clients of the admission load run: a streamed OpenAI chat request read as raw SSE, and a raw
 * WebSocket request, each timed (first token) and checked (exactly one terminal event, or a clean
 * refusal before any stream byte).
 */
import WebSocket from 'ws';

export interface Finished {
  kind: 'completed' | 'refused' | 'failed';
  /** Milliseconds from sending to the first token (completed only). */
  firstTokenMs?: number;
  /** Completion tokens over all choices (from usage, or the done event). */
  tokens: number;
  /** Server-side queue wait (WebSocket done events carry it). */
  queueWaitMs?: number;
  forks?: number;
  forksRefused?: number;
  note: string;
}

/**
 * POSTs a streamed chat request with `n` choices. Completed: every choice has a finish_reason,
 * no error chunk, `[DONE]` last. Refused: 429 with Retry-After and a JSON body OVERLOADED (no stream).
 */
export async function streamedChat(url: string, content: string, n: number, maxTokens: number, seed: number): Promise<Finished> {
  const t0 = performance.now();
  const body = { model: 'm', messages: [{ role: 'user', content }], n, max_tokens: maxTokens, seed, stream: true, stream_options: { include_usage: true } };
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status === 429) {
    const json = (await res.json()) as { error?: { code?: string } };
    const clean = json.error?.code === 'OVERLOADED' && res.headers.get('retry-after') !== null && res.headers.get('content-type') === 'application/json';
    return { kind: clean ? 'refused' : 'failed', tokens: 0, note: clean ? 'OVERLOADED' : `unclean 429: ${JSON.stringify(json)}` };
  }
  if (res.status !== 200 || !res.body) return { kind: 'failed', tokens: 0, note: `status ${res.status}` };
  let firstTokenMs: number | undefined;
  let text = '';
  const decoder = new TextDecoder();
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(part, { stream: true });
    if (firstTokenMs === undefined && text.includes('"content":"') && /"delta":\{"content":"[^"]/.test(text)) firstTokenMs = performance.now() - t0;
  }
  const data = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
  const chunks = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as { error?: unknown; usage?: { completion_tokens: number }; choices: { index: number; finish_reason: string | null }[] });
  const finished = new Set(chunks.flatMap((c) => c.choices.filter((ch) => ch.finish_reason).map((ch) => ch.index)));
  const errors = chunks.filter((c) => c.error);
  const tokens = chunks.find((c) => c.usage)?.usage?.completion_tokens ?? 0;
  const ok = errors.length === 0 && finished.size === n && data.at(-1) === '[DONE]' && data.filter((d) => d === '[DONE]').length === 1;
  return { kind: ok ? 'completed' : 'failed', firstTokenMs, tokens, note: ok ? 'complete' : `errors ${JSON.stringify(errors)}, ${finished.size}/${n} finished` };
}

/** One WebSocket client, one request. Completed: a done event; refused: only an OVERLOADED error. */
export function wsRequest(wsUrl: string, content: string, maxTokens: number, seed: number): Promise<Finished> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    const t0 = performance.now();
    let firstTokenMs: number | undefined;
    let terminals = 0;
    let tokens = 0;
    const finish = (f: Finished) => {
      ws.close();
      resolve(f);
    };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'generate', id: 1, input: [{ role: 'user', content }], options: { maxTokens, seed } })));
    ws.on('message', (data) => {
      const e = JSON.parse(data.toString());
      if (e.type === 'token') {
        firstTokenMs ??= performance.now() - t0;
        tokens += Array.isArray(e.tokenIds) ? e.tokenIds.length : 1;
      }
      if (e.type !== 'done' && e.type !== 'error') return;
      if (++terminals > 1) return;
      if (e.type === 'error') {
        const clean = e.code === 'OVERLOADED' && tokens === 0;
        return finish({ kind: clean ? 'refused' : 'failed', tokens, note: `${e.code}: ${e.message}` });
      }
      const ok = tokens === e.usage.completionTokens;
      finish({
        kind: ok ? 'completed' : 'failed',
        firstTokenMs,
        tokens,
        queueWaitMs: e.stats.queueWaitMs,
        forks: e.stats.forks,
        forksRefused: e.stats.forksRefused,
        note: ok ? e.finishReason : `${tokens} tokens, usage says ${e.usage.completionTokens}`,
      });
    });
    ws.on('error', (err) => resolve({ kind: 'failed', tokens, note: err.message }));
    ws.on('close', (code) => {
      if (terminals === 0) resolve({ kind: 'failed', tokens, note: `closed ${code} without a terminal event` });
    });
  });
}
