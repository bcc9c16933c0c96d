/**
 * WebSocket load run (`npm run bench:load`): 100 concurrent clients against a server on
 * 127.0.0.1 with a small generated model. A third leave mid-stream at a seeded random token (half
 * with a clean close, half by dropping the socket), ten send malformed or oversized frames, the
 * rest must each receive a complete, consistent stream. Every request follows a scripted
 * Multiverse plan (a 4-path fork, installed by the server's prepareOptions hook), so the load
 * forks and merges. Checks that the server stays up and the KV pool returns to fully free, and
 * reports throughput against the same well-behaved requests run in process (the peer).
 * Bounded: the run fails after LIMIT_S seconds. Exit code 1 when any check fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lastValueFrom } from 'rxjs';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import type { GenerateOptions } from '../src/engine/generate-options.js';
import type { DoneEvent } from '../src/rx/events.js';
import { createServer } from '../src/server/server.js';
import { Prng } from '../src/testkit/prng.js';
import { TINY, writeRandomCheckpoint } from '../src/testkit/random-checkpoint.js';
import { broken, dropout, wellBehaved, type Outcome } from './load-clients.js';
import { machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const CLIENTS = 100;
const DROPOUTS = 33;
const BROKEN = 10;
const SEED = 2506;
const LIMIT_S = 300;
const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_PAYLOAD = 256 * 1024;

/** The plan every request follows: a goal with four outlines, four paths, a conclusion. */
const PLAN = ' plan<Parallel><Goal><Outline>1: w</Outline><Outline>2: x</Outline><Outline>3: y</Outline><Outline>4: z</Outline></Goal> all four</Conclusion></Parallel> done';
const PATH = ' one two three four five six seven eight nine ten</Path>';

function forcedPlan(model: Model): GenerateOptions['pickToken'] {
  const plan = model.tokenizer.encode(PLAN, { addSpecialTokens: false });
  const pathTokens = model.tokenizer.encode(PATH, { addSpecialTokens: false });
  const eos = model.tokenizer.eosTokenIds[0];
  return ({ branch, generated }) => (branch === '0' ? plan : pathTokens)[generated] ?? eos;
}

const prompt = (i: number) => Array.from({ length: 24 }, (_, j) => (i * 37 + j * 11) % 480);
// The plan's critical path is ~60 tokens: 128 leaves room without reserving far more KV than it uses.
const options = (i: number) => ({ maxTokens: 128, seed: i });

async function main(): Promise<void> {
  const dir = path.resolve('.cache', 'load-small');
  // A small model: wide enough that steps cost something, small enough for two cores.
  if (!fs.existsSync(path.join(dir, 'config.json'))) writeRandomCheckpoint(dir, { ...TINY, hiddenSize: 256, intermediateSize: 768, numLayers: 4, numHeads: 8, numKvHeads: 4 });
  // Admission reserves each request's worst case and each fork's extra paths (~170 + ~360 slots):
  // a pool that holds all 100 at once with their forks (128 MiB of KV), so no fork waits and the
  // dropouts leave mid-stream as scripted.
  const model = await loadModel(dir, { kvSlots: 131072, contextLength: 1024 });
  const pickToken = forcedPlan(model);
  const server = createServer(model, {
    port: 0,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxPayload: MAX_PAYLOAD,
    prepareOptions: (o) => ({ ...o, pickToken }),
  });
  const { url, wsUrl } = await server.listen();
  console.log(`machine: ${machineLine()}`);
  console.log(`model: ${dir} (qwen2, ${(model.info.parameterCount / 1e6).toFixed(1)}M params, f32, ${model.info.backend}); server ${url}`);

  // Who does what, seeded: the dropouts and broken clients are spread among the 100.
  const rng = new Prng(SEED);
  const order = Array.from({ length: CLIENTS }, (_, i) => i);
  for (let i = CLIENTS - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const role = new Map(order.map((client, k) => [client, k < DROPOUTS ? 'dropout' : k < DROPOUTS + BROKEN ? 'broken' : 'good']));
  const good = [...role].filter(([, r]) => r === 'good').map(([i]) => i);

  const stepped0 = model.loop.tokensStepped;
  const t0 = performance.now();
  let brokenCount = 0;
  const runs = Array.from({ length: CLIENTS }, (_, i): Promise<[string, Outcome]> => {
    const r = role.get(i)!;
    if (r === 'good') return wellBehaved(wsUrl, prompt(i), options(i)).then((o) => [r, o]);
    // A request streams about 150 tokens (plan, four paths, conclusion): leaving within the first 40 is mid-stream.
    if (r === 'dropout') return dropout(wsUrl, prompt(i), options(i), 1 + Math.floor(rng.nextFloat() * 40), rng.nextFloat() < 0.5).then((o) => [r, o]);
    // Two of the broken clients send a frame over maxPayload, the rest malformed and over-limit messages.
    return broken(wsUrl, MAX_MESSAGE_BYTES, MAX_PAYLOAD, brokenCount++ < 2).then((o) => [r, o]);
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`load run over ${LIMIT_S} s`)), LIMIT_S * 1000).unref());
  const outcomes = await Promise.race([Promise.all(runs), timeout]);
  const seconds = (performance.now() - t0) / 1000;
  const stepped = model.loop.tokensStepped - stepped0;

  // The KV pool frees within a few steps of the last release.
  for (let i = 0; i < 100 && model.kvStats().sequences > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const kv = model.kvStats();
  const health = await fetch(`${url}/health`).then((r) => r.status).catch(() => 0);
  const after = await wellBehaved(wsUrl, prompt(0), options(0));

  // The peer: the same well-behaved requests in process, all at once.
  const p0 = performance.now();
  const local = await Promise.all(good.map((i) => lastValueFrom(model.events(prompt(i), { ...options(i), pickToken })) as Promise<DoneEvent>));
  const peerSeconds = (performance.now() - p0) / 1000;
  const peerTokens = local.reduce((n, d) => n + d.usage.completionTokens, 0);

  const by = (r: string) => outcomes.filter(([role]) => role === r).map(([, o]) => o);
  const okOf = (os: Outcome[]) => `${os.filter((o) => o.ok).length}/${os.length}`;
  const goodOut = by('good');
  const goodTokens = goodOut.reduce((n, o) => n + o.tokens, 0);
  const allTokens = outcomes.reduce((n, [, o]) => n + o.tokens, 0);
  const firstTokens = goodOut.flatMap((o) => (o.firstTokenMs !== undefined ? [o.firstTokenMs] : [])).sort((a, b) => a - b);
  const drops = by('dropout');
  const failures = outcomes.filter(([, o]) => !o.ok).map(([r, o]) => `${r}: ${o.note}`);
  const checks: [string, boolean, string][] = [
    ['well-behaved clients got complete, consistent streams', goodOut.every((o) => o.ok), okOf(goodOut)],
    ['dropouts left mid-stream', drops.every((o) => o.ok), `${okOf(drops)} (${drops.filter((o) => o.note === 'dropped').length} dropped the socket, ${drops.filter((o) => o.note === 'closed').length} closed)`],
    ['broken clients got their error codes, stayed served or were closed (1009)', by('broken').every((o) => o.ok), okOf(by('broken'))],
    ['server up after the run (/health, a new stream)', health === 200 && after.ok, `health ${health}, new stream ${after.ok ? 'complete' : after.note}`],
    ['KV pool fully free', kv.freeSlots === kv.totalSlots && kv.sequences === 0, `${kv.freeSlots}/${kv.totalSlots} slots free, ${kv.sequences} sequences`],
  ];
  console.log(formatTable(['check', 'pass', 'detail'], checks.map(([name, pass, detail]) => [name, pass ? 'yes' : 'NO', detail])));
  console.log();
  const wsRate = goodTokens / seconds;
  const peerRate = peerTokens / peerSeconds;
  console.log(
    formatTable(
      ['measure', 'value'],
      [
        ['wall time, 100 clients', `${seconds.toFixed(2)} s`],
        ['tokens streamed to all clients', `${allTokens} (${(allTokens / seconds).toFixed(0)} tok/s)`],
        ['tokens to well-behaved clients', `${goodTokens} in ${goodOut.length} streams (${wsRate.toFixed(0)} tok/s)`],
        ['engine tokens stepped (prefill + decode)', `${stepped} (${(stepped / seconds).toFixed(0)} tok/s)`],
        ['first token, well-behaved (p50 / p95)', `${median(firstTokens).toFixed(0)} / ${firstTokens[Math.floor(firstTokens.length * 0.95)].toFixed(0)} ms`],
        [`peer: the ${good.length} well-behaved requests in process`, `${peerTokens} tokens, ${peerRate.toFixed(0)} tok/s`],
        ['over WebSocket vs in process (with 43 more clients beside them)', `${(wsRate / peerRate).toFixed(2)}x`],
      ],
    ),
  );
  if (failures.length) console.log(`\nfailures:\n  ${failures.join('\n  ')}`);
  await server.close();
  await model.dispose();
  if (!checks.every(([, pass]) => pass)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
