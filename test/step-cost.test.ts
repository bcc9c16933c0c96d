/**
 * model.stepCost(): a decode step's cost against the rows it carries, measured through the step
 * loop with KV reserved like a request's and all of it given back; kept per model folder and
 * kernel set. Timings are not asserted (a shared machine), only what the measurement must hold.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel } from '../src/facade/load-model.js';
import type { Model } from '../src/facade/model.js';
import { measureStepCost, stepCostTarget, stepMs, type StepCost, type StepCostTarget } from '../src/engine/step-cost.js';
import type { DoneEvent } from '../src/rx/events.js';
import { tinyModel } from './support/models.js';

describe('model.stepCost', () => {
  let model: Model;
  beforeAll(async () => {
    // The cost is kept per model folder for the whole process, and test files share one process:
    // a copy of the tiny model that no other file loads is measured here, not found already measured.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-step-cost-'));
    fs.cpSync(tinyModel('qwen2', 'F32'), dir, { recursive: true });
    model = await loadModel(dir, { kvSlots: 2048, threads: 1 });
  });
  afterAll(() => model.dispose());

  it('times 1, 2, 4, 8 and 16 rows, gives every slot and reservation back, and is measured once', async () => {
    const steps = model.loop.steps;
    const cost = await model.stepCost();
    expect(cost.rows).toEqual([1, 2, 4, 8, 16]);
    expect(cost.ms).toHaveLength(5);
    for (const ms of cost.ms) expect(ms > 0 && Number.isFinite(ms)).toBe(true);
    expect(cost.backend).toBe(model.info.backend);
    expect(cost.contextTokens).toBe(32);
    // 16 sequences' prompts share one step; then 3 warm-up and 30 timed steps per row count.
    expect(model.loop.steps - steps).toBe(1 + 5 * (3 + 30));
    expect(model.kvStats().freeSlots).toBe(model.kvStats().totalSlots);
    expect(model.kvStats().sequences).toBe(0);
    expect(model.admissionStats().reservedSlots).toBe(0);
    const again = model.loop.steps;
    expect(await model.stepCost()).toBe(cost);
    expect(model.loop.steps).toBe(again);
  });

  it('shares steps with a running request without disturbing it', async () => {
    const target = stepCostTarget(model);
    const options = { raw: true, temperature: 0, maxTokens: 24, ignoreEos: true, multiverse: { enabled: false } } as const;
    const alone = (await lastValueFrom(model.events('1 2 3', options))) as DoneEvent;
    const [together] = await Promise.all([lastValueFrom(model.events('1 2 3', options)), measureStepCost(target, { rows: [3, 1], repeats: 2 })]);
    expect((together as DoneEvent).tokenIds).toEqual(alone.tokenIds);
    expect(model.kvStats().freeSlots).toBe(model.kvStats().totalSlots);
  });

  it('refuses what it cannot measure, and fails with the pool too small, leaving nothing behind', async () => {
    const target = stepCostTarget(model);
    await expect(measureStepCost(target, { rows: [0] })).rejects.toThrow(/rows/);
    await expect(measureStepCost(target, { contextTokens: 1.5 })).rejects.toThrow(/contextTokens/);
    await expect(measureStepCost(target, { rows: [64], contextTokens: 64 })).rejects.toMatchObject({ code: 'KV_EXHAUSTED' });
    expect(model.admissionStats().reservedSlots).toBe(0);
  });
});

describe('measureStepCost on a scripted clock', () => {
  /** A measurement target around a scripted step loop: sequences, KV and admission cost nothing. */
  const scripted = (loop: { run: (...args: never[]) => Promise<Float32Array>; release: () => void }) => {
    let nextSeq = 0;
    const engine = { createSequence: () => nextSeq++, backend: 'scripted' };
    const admission = { reserve: () => ({ granted: Promise.resolve(), release: () => {} }) };
    return { engine, loop, admission, vocabSize: 100 } as unknown as StepCostTarget;
  };

  it('times the row counts in turns, skips 3 warm-up rounds and keeps the fastest of the timed steps', async () => {
    const rows = [1, 2, 4];
    // Round k's step of r rows takes r + extra[k] ms: the warm-up rounds are the fastest of all
    // (so counting one shows), the timed rounds carry noise whose smallest value is 0.5.
    const extra = [0, 0, 0, 5, 0.5, 9, 2, 7, 3];
    let now = 0;
    let decodeCalls = 0;
    const perRound = rows.reduce((n, r) => n + r, 0);
    const loop = {
      run: (_seq: number, _tokens: number[], _positions: number[], logits: string) => {
        if (logits === 'last') {
          // Calls come in rounds of 1 + 2 + 4; each of the r calls of a step adds its share.
          const round = Math.floor(decodeCalls / perRound);
          let at = decodeCalls % perRound;
          const r = rows.find((n) => (at -= n) < 0)!;
          now += (r + extra[round]) / r;
          decodeCalls++;
        }
        return Promise.resolve(new Float32Array(0));
      },
      release: () => {},
    };
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const cost = await measureStepCost(scripted(loop), { rows, repeats: extra.length - 3 });
      expect(decodeCalls).toBe(extra.length * perRound);
      expect(cost.ms).toEqual([1.5, 2.5, 4.5]);
    } finally {
      clock.mockRestore();
    }
  });

  it('starts no round past budgetMs once 9 rounds were timed', async () => {
    // One row, 500 ms a step: past 2 s from the first warm-up round, 3 + 9 rounds and no more.
    let now = 0;
    let steps = 0;
    const loop = {
      run: (_seq: number, _tokens: number[], _positions: number[], logits: string) => {
        if (logits === 'last') {
          now += 500;
          steps++;
        }
        return Promise.resolve(new Float32Array(0));
      },
      release: () => {},
    };
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const cost = await measureStepCost(scripted(loop), { rows: [1] });
      expect(steps).toBe(3 + 9);
      expect(cost.ms).toEqual([500]);
    } finally {
      clock.mockRestore();
    }
  });
});

describe('stepMs', () => {
  const cost: StepCost = { rows: [1, 2, 4, 8], ms: [1, 1.5, 2, 6], contextTokens: 32, backend: 'cpu-portable' };
  it('reads the curve linearly between measured row counts and along its last segment beyond', () => {
    expect(stepMs(cost, 1)).toBe(1);
    expect(stepMs(cost, 3)).toBe(1.75);
    expect(stepMs(cost, 6)).toBe(4);
    expect(stepMs(cost, 16)).toBe(14);
    expect(stepMs(cost, 0)).toBe(1);
  });
});
