/**
 * `npm run bench:tokens`: where a generated token's time goes on the shipped 1M model.
 *
 *   npm run bench:tokens               # 24 problems per setting, 3 passes
 *   npm run bench:tokens -- --quick    # 8 problems, 1 pass
 *
 * Generates arithmetic answers with 1 and 8 requests in flight (Multiverse off, so exactly that
 * many rows per decode step), greedy and sampled (T 0.8, top-k 40, top-p 0.95, 5 top logprobs),
 * and prints ms per step and per token, split into the native step (forward pass and the logits
 * crossing, timed from step() to its promise) and the JS around it. The JS part is then broken
 * down by replaying the same work on the rows and token streams captured from a generation:
 * sampling (the native sampler, and the TypeScript one it replaced as a same-run peer), the
 * streaming detokenizer and tag scanning; the rest (scheduler, step loop, event objects and the
 * Observable chain) is what is left.
 */
import { lastValueFrom, mergeMap, range, toArray } from 'rxjs';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import { shippedModelDir } from '../src/facade/shipped-models.js';
import { StreamingDetokenizer } from '../src/model/detokenizer.js';
import { TagScanner } from '../src/multiverse/tag-scanner.js';
import { Rng } from '../src/engine/rng.js';
import { sampleToken, type SamplingParams } from '../src/engine/sampler.js';
import * as reference from '../test/support/reference-sampler.js';
import type { GenerateOptions } from '../src/engine/generate-options.js';
import type { DoneEvent, GenerationEvent } from '../src/rx/events.js';
import type { NativeEngine, StepItem } from '../src/native/binding.js';
import { promptText } from '../src/tasks/arith/export.js';
import { testProblems } from '../src/tasks/arith/evaluate.js';
import { machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const quick = process.argv.includes('--quick');
const PROBLEMS = quick ? 8 : 24;
const PASSES = quick ? 1 : 3;
const log = (s: string) => process.stderr.write(`${s}\n`);

const SETTINGS: { name: string; options: GenerateOptions; sampling: SamplingParams }[] = [
  { name: 'greedy', options: { temperature: 0 }, sampling: { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, topLogprobs: 0 } },
  {
    name: 'sampled',
    options: { temperature: 0.8, topK: 40, topP: 0.95, topLogprobs: 5, seed: 7 },
    sampling: { temperature: 0.8, topK: 40, topP: 0.95, minP: 0, repetitionPenalty: 1, topLogprobs: 5 },
  },
];

/** Wraps the engine's step to add up the time from the call to the promise settling, and rows. */
function timeSteps(model: Model): { nativeMs: number; rows: number; restore(): void } {
  const engine = model.engine;
  const step = engine.step.bind(engine);
  const stats = {
    nativeMs: 0,
    rows: 0,
    restore: () => {
      delete (engine as Partial<NativeEngine>).step;
    },
  };
  // The addon's methods are read-only on the prototype; an own property shadows it.
  Object.defineProperty(engine, 'step', {
    configurable: true,
    value: async (items: StepItem[]) => {
      const t0 = performance.now();
      try {
        return await step(items);
      } finally {
        stats.nativeMs += performance.now() - t0;
        stats.rows += items.length;
      }
    },
  });
  return stats;
}

interface Run {
  wallMs: number;
  nativeMs: number;
  steps: number;
  tokens: number;
}

async function generateAll(model: Model, inFlight: number, options: GenerateOptions): Promise<Run> {
  const problems = testProblems(PROBLEMS);
  const steps0 = model.loop.steps;
  const timer = timeSteps(model);
  const t0 = performance.now();
  const done = await lastValueFrom(
    range(0, problems.length).pipe(
      mergeMap(
        (i) =>
          lastValueFrom(
            model.events(promptText(problems[i], model.tokenizer), { raw: true, maxTokens: 400, multiverse: { enabled: false }, ...options }),
          ) as Promise<GenerationEvent>,
        inFlight,
      ),
      toArray(),
    ),
  );
  const wallMs = performance.now() - t0;
  timer.restore();
  const tokens = done.reduce((n, e) => n + (e as DoneEvent).usage.completionTokens, 0);
  return { wallMs, nativeMs: timer.nativeMs, steps: model.loop.steps - steps0, tokens };
}

/** Rows and tokens of a few generations, for the replays. */
async function capture(model: Model): Promise<{ rows: Float32Array[]; streams: number[][] }> {
  const rows: Float32Array[] = [];
  const streams: number[][] = [];
  for (const p of testProblems(4)) {
    const done = (await lastValueFrom(
      model.events(promptText(p, model.tokenizer), {
        raw: true,
        temperature: 0,
        maxTokens: 400,
        multiverse: { enabled: false },
        pickToken: ({ logits }) => {
          rows.push(logits.slice());
          return undefined;
        },
      }),
    )) as DoneEvent;
    streams.push(done.tokenIds);
  }
  return { rows, streams };
}

/** Microseconds per call of `fn` over `n` items, best of three passes. */
function microsPer(n: number, fn: () => void): number {
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  return best;
}

function replays(model: Model, rows: Float32Array[], streams: number[][], sampling: SamplingParams): { sample: number; tsSample: number; detok: number; tags: number } {
  const rng = Rng.fromSeed(1);
  const sample = microsPer(rows.length, () => {
    for (const row of rows) sampleToken(row, sampling, rng, []);
  });
  const tsSample = microsPer(rows.length, () => {
    for (const row of rows) reference.sampleToken(row, sampling, rng, []);
  });
  const tokens = streams.reduce((n, s) => n + s.length, 0);
  const detok = microsPer(tokens, () => {
    for (const s of streams) {
      const d = new StreamingDetokenizer(model.tokenizer);
      for (const id of s) d.push(id);
      d.flush();
    }
  });
  const tags = microsPer(tokens, () => {
    for (const s of streams) {
      const scanner = new TagScanner(model.tagMode);
      for (const id of s) scanner.push(id);
    }
  });
  return { sample, tsSample, detok, tags };
}

async function main(): Promise<void> {
  console.log(`machine: ${machineLine()}`);
  const model = await loadModel(shippedModelDir('multiverse-arith'));
  console.log(`model: models/multiverse-arith (${(model.info.parameterCount / 1e6).toFixed(2)}M params, vocab ${model.checkpoint.config.vocabSize}), kernels ${model.info.backend}`);
  log('warm-up ...');
  await generateAll(model, 8, SETTINGS[0].options);
  const { rows, streams } = await capture(model);

  // Every setting once per pass, passes in turn: a change in the machine's load falls on all alike.
  const cells = SETTINGS.flatMap((setting) => [1, 8].map((inFlight) => ({ setting, inFlight, runs: [] as Run[] })));
  for (let pass = 0; pass < PASSES; pass++) {
    for (const cell of cells) {
      log(`pass ${pass + 1}/${PASSES}: ${cell.setting.name}, ${cell.inFlight} in flight ...`);
      cell.runs.push(await generateAll(model, cell.inFlight, cell.setting.options));
    }
  }
  const table = cells.map(({ setting, inFlight, runs }) => {
    // Tokens and steps are the same every pass (greedy, or a fixed seed); times are medians.
    const { tokens, steps } = runs[0];
    const wallMs = median(runs.map((r) => r.wallMs));
    const nativeMs = median(runs.map((r) => r.nativeMs));
    const jsMs = median(runs.map((r) => r.wallMs - r.nativeMs));
    return [
      `${setting.name}, ${inFlight} in flight`,
      `${tokens}`,
      `${(tokens / steps).toFixed(2)}`,
      `${(wallMs / steps).toFixed(3)}`,
      `${(nativeMs / steps).toFixed(3)}`,
      `${(jsMs / steps).toFixed(3)}`,
      `${((wallMs / tokens) * 1000).toFixed(1)}`,
      `${((jsMs / tokens) * 1000).toFixed(1)}`,
    ];
  });
  console.log(`\nend to end (wall = native step + JS between steps; medians of ${PASSES} passes)`);
  console.log(formatTable(['run', 'tokens', 'rows/step', 'ms/step', 'native ms/step', 'JS ms/step', 'µs/token', 'JS µs/token'], table));

  const detail: string[][] = [];
  for (const setting of SETTINGS) {
    const r = replays(model, rows, streams, setting.sampling);
    detail.push([setting.name, r.sample.toFixed(2), r.tsSample.toFixed(2), r.detok.toFixed(2), r.tags.toFixed(2)]);
  }
  console.log(`\nJS per-token work, replayed on ${rows.length} captured rows and their tokens (µs/token)`);
  console.log(formatTable(['sampling', 'sampleToken', 'TS reference sampler', 'detokenizer', 'tag scan'], detail));
  await model.dispose();
}

await main();
