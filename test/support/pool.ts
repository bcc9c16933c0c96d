/** Checks that a model's KV pool is whole and fully free once its requests have ended. */
import { expect } from 'vitest';
import type { Model } from '../../src/index.js';

/** Resolves once queued work has run and releases have landed (they happen between steps). */
export async function settled(model: Model): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await model.loop.whenIdle();
  await new Promise((r) => setImmediate(r));
}

/** After settling: the pool passes its integrity check, every slot is free and no sequence is live. */
export async function expectPoolFree(model: Model): Promise<void> {
  await settled(model);
  model.engine.checkIntegrity();
  const kv = model.kvStats();
  expect(kv.freeSlots).toBe(kv.totalSlots);
  expect(kv.sequences).toBe(0);
}
