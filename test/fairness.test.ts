/**
 * Continuous batching stays fair: with a step budget smaller than one wide request's paths, a
 * narrow request beside it still gets a token in every step (round-robin across requests).
 */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loadModel, type DoneEvent } from '../src/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

describe('step planning', () => {
  it('does not let an 8-path request starve a single sequence', async () => {
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 4096, contextLength: 1024, maxStepTokens: 4 });
    const eos = model.tokenizer.eosTokenIds[0];
    const outlines = Array.from({ length: 8 }, (_, i) => `<Outline>${i + 1}: p</Outline>`).join('');
    const wide = forceScripts(model, (b) => (b === '0' ? `<Parallel><Goal>${outlines}</Goal></Conclusion></Parallel>` : `${' w'.repeat(60)}</Path>`), eos);
    // A budget of 200 lets admission reserve all 8 paths (7 × ~170 extra slots) in the 4096-slot pool.
    const wideRun = lastValueFrom(model.events([1, 2], { pickToken: wide.pickToken, maxTokens: 200 }).pipe(toArray()));
    // Start the narrow request once the wide one has forked and its 8 paths compete for 4 slots a step.
    while (model.kvStats().sequences < 9) await new Promise((r) => setImmediate(r));
    const start = model.loop.steps;
    const narrow = (await lastValueFrom(model.events([3, 4], { maxTokens: 20, ignoreEos: true }))) as DoneEvent;
    const steps = model.loop.steps - start;
    // 1 prefill step + 19 decode steps when never skipped; allow one step of slack for the join.
    expect(narrow.usage.completionTokens).toBe(20);
    expect(steps).toBeLessThanOrEqual(21);
    const wideEvents = await wideRun;
    expect(wideEvents.at(-1)?.type).toBe('done');
    await model.dispose();
  });
});
