/**
 * 16 requests that fork (a forced Multiverse plan: a goal with 4 outlines, 4 paths, a conclusion)
 * on one step loop at once, against the same requests one after another on the same model.
 * Sampling is replaced by scripts (`pickToken`) so both runs do exactly the same work.
 */
import { lastValueFrom } from 'rxjs';
import type { GenerateOptions } from '../src/engine/generate-options.js';
import type { Model } from '../src/facade/model.js';
import type { DoneEvent } from '../src/rx/events.js';

const ROOT = '<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline><Outline>3: c</Outline><Outline>4: d</Outline></Goal> sum</Conclusion></Parallel> done';
const PATH = ' one two three four five six seven eight nine ten eleven twelve</Path>';

function scripted(model: Model): GenerateOptions {
  const root = model.tokenizer.encode(ROOT, { addSpecialTokens: false });
  const path = model.tokenizer.encode(PATH, { addSpecialTokens: false });
  const eos = model.tokenizer.eosTokenIds[0];
  return {
    maxTokens: 512,
    pickToken: ({ branch, generated }) => (branch === '0' ? root : path)[generated] ?? eos,
  };
}

export interface ConcurrencyResult {
  requests: number;
  tokens: number;
  concurrentSeconds: number;
  sequentialSeconds: number;
  parallelism: number;
}

export async function concurrentVsSequential(model: Model, requests: number): Promise<ConcurrencyResult> {
  const options = scripted(model);
  const prompt = (i: number) => Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7) % 400);
  const one = (i: number) => lastValueFrom(model.events(prompt(i), options)) as Promise<DoneEvent>;

  let t0 = performance.now();
  const together = await Promise.all(Array.from({ length: requests }, (_, i) => one(i)));
  const concurrentSeconds = (performance.now() - t0) / 1000;

  t0 = performance.now();
  for (let i = 0; i < requests; i++) await one(i);
  const sequentialSeconds = (performance.now() - t0) / 1000;

  const tokens = together.reduce((n, d) => n + d.usage.completionTokens, 0);
  return { requests, tokens, concurrentSeconds, sequentialSeconds, parallelism: together[0].stats.parallelism };
}
