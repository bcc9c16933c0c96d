/**
 * `npm run bench:waves`: `maxPathsPerFork: 'auto'` (a fork's paths decoded in lanes read off the
 * step cost) against all paths at once (the default), on the shipped model and on a ~20M random
 * model, with 1 and 8 requests in flight.
 *
 *   npm run bench:waves               # 3 passes, the settings alternating within each pass
 *   npm run bench:waves -- --quick    # 1 pass, fewer requests
 *
 * Prints the machine, each model's step-cost curve and its lanes, then per setting (all at once,
 * 'auto', and lanes 2 forced, to show waves where the curve does not call for them) the median
 * wall clock, CPU time, native steps and peak KV slots in use (sampled after every step), and
 * whether the settings wrote the same transcripts, every token's logprob included (they must:
 * lanes change when a path runs, not what it writes). The shipped model answers arithmetic
 * problems greedily with its own forks (2-6 paths on these problems); the random model is forced
 * to fork into 6 paths of 24 tokens each (its outputs are noise, its steps real).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom, mergeMap, range, toArray } from 'rxjs';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import { shippedModelDir } from '../src/facade/shipped-models.js';
import type { GenerateOptions } from '../src/engine/generate-options.js';
import { lanesFor } from '../src/engine/step-cost.js';
import type { DoneEvent, GenerationEvent } from '../src/rx/events.js';
import type { StepItem } from '../src/native/binding.js';
import { promptText } from '../src/tasks/arith/export.js';
import { testProblems } from '../src/tasks/arith/evaluate.js';
import { writeRandomCheckpoint, type RandomCheckpointOptions } from '../src/testkit/random-checkpoint.js';
import { machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const quick = process.argv.includes('--quick');
const PASSES = quick ? 1 : 3;
const log = (s: string) => process.stderr.write(`${s}\n`);

/** About 20M parameters: 6 layers of width 512, a 2048-token vocab. */
const RANDOM_20M: RandomCheckpointOptions = {
  architecture: 'qwen2',
  dtype: 'F32',
  seed: 3,
  hiddenSize: 512,
  intermediateSize: 1408,
  numLayers: 6,
  numHeads: 8,
  numKvHeads: 4,
  vocabSize: 2048,
  bpeVocabSize: 1024,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 2048,
  ropeTheta: 10000,
};
const FORCED_PATHS = 6;
const FORCED_PATH_TOKENS = 24;

interface Workload {
  name: string;
  model: Model;
  /** Request i of `count`: its input and options. */
  request(i: number): { input: string | number[]; options: GenerateOptions };
  requests: number;
  /** Removes what the workload wrote (the random checkpoint). */
  cleanup?: () => void;
}

interface Run {
  wallMs: number;
  /** This process's CPU time (user + system, every thread): less swayed than the wall clock by other jobs on the machine. */
  cpuMs: number;
  steps: number;
  peakKv: number;
  transcripts: string[];
}

const SETTINGS: { name: string; multiverse: GenerateOptions['multiverse'] }[] = [
  { name: 'all at once', multiverse: {} },
  { name: "'auto'", multiverse: { maxPathsPerFork: 'auto' } },
  // Waves forced on, whatever the curve says: what lanes cost or save where they engage.
  { name: 'lanes 2', multiverse: { lanes: 2 } },
];

/** Runs every request of `w`, `inFlight` at a time, sampling the KV in use after every step. */
async function runAll(w: Workload, inFlight: number, multiverse: GenerateOptions['multiverse']): Promise<Run> {
  const { model } = w;
  const engine = model.engine;
  const step = engine.step.bind(engine);
  let peakKv = 0;
  // The addon's methods are read-only on the prototype; an own property shadows it.
  Object.defineProperty(engine, 'step', {
    configurable: true,
    value: async (items: StepItem[]) => {
      const out = await step(items);
      const kv = engine.kvStats();
      peakKv = Math.max(peakKv, kv.totalSlots - kv.freeSlots);
      return out;
    },
  });
  const steps0 = model.loop.steps;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const done = await lastValueFrom(
      range(0, w.requests).pipe(
        mergeMap(async (i) => {
          const { input, options } = w.request(i);
          const events = await lastValueFrom(model.events(input, { ...options, multiverse: { ...options.multiverse, ...multiverse } }).pipe(toArray()));
          return [i, transcript(events)] as const;
        }, inFlight),
        toArray(),
      ),
    );
    const transcripts = done.sort((a, b) => a[0] - b[0]).map(([, t]) => t);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, steps: model.loop.steps - steps0, peakKv, transcripts };
  } finally {
    delete (engine as Partial<typeof engine>).step;
  }
}

/** The done event's token ids, then every branch's tokens with their logprobs (exact digits), branch by branch. */
function transcript(events: GenerationEvent[]): string {
  const byBranch = new Map<string, string[]>();
  for (const e of events) if (e.type === 'token') byBranch.set(e.branch, [...(byBranch.get(e.branch) ?? []), `${e.tokenId}:${e.logprob}`]);
  const done = events.at(-1) as DoneEvent;
  return [done.tokenIds.join(','), ...[...byBranch].sort(([a], [b]) => a.localeCompare(b)).map(([b, t]) => `${b}=${t.join(',')}`)].join(';');
}

async function shippedWorkload(): Promise<Workload> {
  const model = await loadModel(shippedModelDir('multiverse-arith'));
  const problems = testProblems(quick ? 8 : 16);
  return {
    name: 'multiverse-arith (1M, its own forks)',
    model,
    requests: problems.length,
    request: (i) => ({ input: promptText(problems[i], model.tokenizer), options: { raw: true, temperature: 0, maxTokens: 400 } }),
  };
}

async function randomWorkload(): Promise<Workload> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-waves-'));
  writeRandomCheckpoint(dir, RANDOM_20M);
  const model = await loadModel(dir, { kvSlots: 16384 });
  const ids = (text: string) => model.tokenizer.encode(text, { addSpecialTokens: false });
  const outlines = Array.from({ length: FORCED_PATHS }, (_, i) => `<Outline>${i + 1}: part</Outline>`).join('');
  const root = ids(` solve<Parallel><Goal>${outlines}</Goal> all</Conclusion></Parallel>`);
  const pathClose = model.tokenizer.tokenId('</Path>')!;
  const eos = model.tokenizer.eosTokenIds[0];
  return {
    name: `random ${(model.info.parameterCount / 1e6).toFixed(0)}M (forced: ${FORCED_PATHS} paths x ${FORCED_PATH_TOKENS} tokens)`,
    model,
    requests: quick ? 4 : 8,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    request: (i) => ({
      input: [5 + i, 17, 42, 99],
      options: {
        maxTokens: 200,
        // The root writes its script; each path writes ordinary tokens (ids 100..) then closes.
        pickToken: ({ branch, generated }) =>
          branch === '0' ? (root[generated] ?? eos) : generated < FORCED_PATH_TOKENS ? 100 + ((generated * 7 + branch.length) % 500) : pathClose,
      },
    }),
  };
}

async function bench(w: Workload): Promise<void> {
  const cost = await w.model.stepCost();
  log(`\n${w.name}: ${w.model.info.backend}, step cost at rows ${cost.rows.join('/')}: ${cost.ms.map((m) => m.toFixed(3)).join(' / ')} ms -> lanes ${lanesFor(cost)}`);
  const rows: string[][] = [];
  for (const inFlight of [1, 8]) {
    const runs = SETTINGS.map(() => [] as Run[]);
    // One untimed warm-up of each setting, then the settings take turns in every pass.
    for (const s of SETTINGS) await runAll(w, inFlight, s.multiverse);
    for (let pass = 0; pass < PASSES; pass++) for (const [k, s] of SETTINGS.entries()) runs[k].push(await runAll(w, inFlight, s.multiverse));
    const reference = runs[0][0].transcripts.join('|');
    for (const [k, s] of SETTINGS.entries()) {
      const same = runs[k].every((r) => r.transcripts.join('|') === reference);
      const wall = median(runs[k].map((r) => r.wallMs));
      const ratio = wall / median(runs[0].map((r) => r.wallMs));
      const cpu = median(runs[k].map((r) => r.cpuMs));
      rows.push([String(inFlight), s.name, wall.toFixed(0), ratio.toFixed(2), cpu.toFixed(0), (cpu / median(runs[0].map((r) => r.cpuMs))).toFixed(2), String(median(runs[k].map((r) => r.steps))), String(median(runs[k].map((r) => r.peakKv))), k === 0 ? '' : same ? 'yes' : 'NO']);
    }
  }
  console.log(`\n${w.name}, ${w.requests} requests, median of ${PASSES}`);
  console.log(formatTable(['in flight', 'setting', 'wall ms', 'x all', 'CPU ms', 'x all', 'steps', 'peak KV', 'same transcripts'], rows));
  await w.model.dispose();
  w.cleanup?.();
}

console.log(machineLine());
await bench(await shippedWorkload());
await bench(await randomWorkload());
