/**
 * Admission load run (second half of `npm run bench:load`), on the shipped model
 * (models/multiverse-arith, its default 4,096-slot KV pool): 64 streamed chat requests with n = 4 at
 * once, then 300 WebSocket clients with one request each at once. Every request must complete (it
 * waits in the admission queue, it does not fail), nothing may be lost, and the pool must be free
 * after. Then the same 64 + 300 against a server whose queue holds only 8: every request either
 * completes or is refused cleanly before any stream byte (HTTP 429 + Retry-After, WebSocket
 * OVERLOADED). Reports time to first token, queue wait and tokens/s. Exit code 1 when a check fails.
 */
import path from 'node:path';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import { createServer } from '../src/server/server.js';
import { generateProblem, problemText } from '../src/tasks/arith/problem.js';
import { machineLine } from './machine.js';
import { streamedChat, wsRequest, type Finished } from './queue-clients.js';
import { formatTable } from './table.js';

const MODEL_DIR = path.resolve('models', 'multiverse-arith');
const CHAT_REQUESTS = 64;
const CHOICES = 4;
const WS_CLIENTS = 300;
const MAX_TOKENS = 256;
const TINY_QUEUE = 8;
const LIMIT_S = 600;

interface Phase {
  name: string;
  seconds: number;
  outcomes: Finished[];
  waitedMs: { mean: number; waited: number };
  /** Requests preempted and rerun because every running one waited to fork. */
  preemptions: number;
  poolFree: boolean;
}

const question = (seed: number) => problemText(generateProblem(seed));

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))] : NaN;
}

/** Runs `start` clients at once against a fresh server on `model`; checks the pool afterwards. */
async function phase(name: string, model: Model, clients: (url: string, wsUrl: string) => Promise<Finished>[]): Promise<Phase> {
  const server = createServer(model, { port: 0, modelId: 'm', maxConcurrentRequests: 1 });
  const { url, wsUrl } = await server.listen();
  const before = model.admissionStats();
  const t0 = performance.now();
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${name}: over ${LIMIT_S} s`)), LIMIT_S * 1000).unref());
  const outcomes = await Promise.race([Promise.all(clients(url, wsUrl)), timeout]);
  const seconds = (performance.now() - t0) / 1000;
  for (let i = 0; i < 100 && model.kvStats().sequences > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const kv = model.kvStats();
  const after = model.admissionStats();
  await server.close();
  const waited = after.waited - before.waited;
  const admitted = after.admitted - before.admitted;
  return {
    name,
    seconds,
    outcomes,
    waitedMs: { mean: admitted ? (after.queueWaitMs - before.queueWaitMs) / admitted : 0, waited },
    preemptions: after.preemptions - before.preemptions,
    poolFree: kv.freeSlots === kv.totalSlots && kv.sequences === 0 && after.reservedSlots === 0,
  };
}

const chats = (url: string) => Array.from({ length: CHAT_REQUESTS }, (_, i) => streamedChat(url, question(1000 + i), CHOICES, MAX_TOKENS, i));
const sockets = (wsUrl: string) => Array.from({ length: WS_CLIENTS }, (_, i) => wsRequest(wsUrl, question(5000 + i), MAX_TOKENS, i));

function row(p: Phase): string[] {
  const count = (k: Finished['kind']) => p.outcomes.filter((o) => o.kind === k).length;
  const completed = p.outcomes.filter((o) => o.kind === 'completed');
  const ttft = completed.flatMap((o) => (o.firstTokenMs === undefined ? [] : [o.firstTokenMs]));
  const waits = completed.flatMap((o) => (o.queueWaitMs === undefined ? [] : [o.queueWaitMs]));
  const tokens = completed.reduce((n, o) => n + o.tokens, 0);
  const forks = completed.reduce((n, o) => n + (o.forks ?? 0), 0);
  const refusedForks = completed.reduce((n, o) => n + (o.forksRefused ?? 0), 0);
  return [
    p.name,
    `${count('completed')} / ${count('refused')} / ${count('failed')}`,
    `${p.seconds.toFixed(1)} s`,
    `${percentile(ttft, 0.5).toFixed(0)} / ${percentile(ttft, 0.95).toFixed(0)} ms`,
    waits.length ? `${percentile(waits, 0.5).toFixed(0)} / ${percentile(waits, 0.95).toFixed(0)} ms` : `mean ${p.waitedMs.mean.toFixed(0)} ms`,
    `${p.waitedMs.waited}`,
    `${(tokens / p.seconds).toFixed(0)}`,
    completed.some((o) => o.forks !== undefined) ? `${forks} / ${refusedForks}` : '-',
    `${p.preemptions}`,
    p.poolFree ? 'yes' : 'NO',
  ];
}

async function main(): Promise<void> {
  const model = await loadModel(MODEL_DIR);
  console.log(`machine: ${machineLine()}`);
  console.log(`model: ${MODEL_DIR} (${(model.info.parameterCount / 1e6).toFixed(2)}M params, ${model.info.backend}), KV pool ${model.info.kvSlots} slots, max_tokens ${MAX_TOKENS}`);
  const full = [await phase(`${CHAT_REQUESTS} chat x n=${CHOICES} (SSE)`, model, (url) => chats(url)), await phase(`${WS_CLIENTS} WebSocket clients`, model, (_, ws) => sockets(ws))];
  await model.dispose();

  const small = await loadModel(MODEL_DIR, { maxQueuedRequests: TINY_QUEUE });
  const tiny = [await phase(`queue of ${TINY_QUEUE}: ${CHAT_REQUESTS} chat + ${WS_CLIENTS} WS at once`, small, (url, ws) => [...chats(url), ...sockets(ws)])];
  await small.dispose();

  const header = ['run', 'completed / refused / failed', 'wall', 'first token p50 / p95', 'queue wait p50 / p95', 'waited', 'tok/s', 'forks / refused', 'preempted', 'pool free'];
  console.log(formatTable(header, [...full, ...tiny].map(row)));
  const failures = [...full, ...tiny].flatMap((p) => p.outcomes.filter((o) => o.kind === 'failed').map((o) => `${p.name}: ${o.note}`));
  if (failures.length) console.log(`\nfailures:\n  ${failures.slice(0, 20).join('\n  ')}`);
  const checks = [
    ...full.map((p): [string, boolean] => [`${p.name}: every request completed`, p.outcomes.every((o) => o.kind === 'completed')]),
    [`queue of ${TINY_QUEUE}: every request completed or was refused cleanly, some of each`, tiny[0].outcomes.every((o) => o.kind !== 'failed') && tiny[0].outcomes.some((o) => o.kind === 'refused') && tiny[0].outcomes.some((o) => o.kind === 'completed')] as [string, boolean],
    ['KV pool free after every run', [...full, ...tiny].every((p) => p.poolFree)] as [string, boolean],
  ];
  console.log(`\n${formatTable(['check', 'pass'], checks.map(([c, ok]) => [c, ok ? 'yes' : 'NO']))}`);
  if (!checks.every(([, ok]) => ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
