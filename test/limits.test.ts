/**
 * Limits that end or shape a request: the wall-clock timeout, and fork admission when the KV pool
 * cannot hold every path (all paths or none: the goal is then written sequentially).
 */
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loadModel, type DoneEvent } from '../src/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';

describe('limits', () => {
  it('ends a request at its wall-clock timeout with finishReason length, limit timeout', async () => {
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 4096, contextLength: 4096 });
    const d = (await lastValueFrom(model.events([1, 2, 3], { maxTokens: 4000, ignoreEos: true, timeoutMs: 30 }))) as DoneEvent;
    expect(d.finishReason).toBe('length');
    expect(d.limit).toBe('timeout');
    expect(d.usage.completionTokens).toBeLessThan(4000);
    await new Promise((r) => setImmediate(r));
    expect(model.kvStats().freeSlots).toBe(4096);
    await model.dispose();
  });

  it('writes a goal sequentially when the pool cannot admit all of its paths', async () => {
    // 8 paths need 8 × (16 + 8) = 192 free slots; the pool has 160 in all.
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 160, contextLength: 160 });
    const outlines = Array.from({ length: 8 }, (_, i) => `<Outline>${i + 1}:</Outline>`).join('');
    const eos = model.tokenizer.eosTokenIds[0];
    const forcing = forceScripts(model, { '0': `<Parallel><Goal>${outlines}</Goal> after` }, eos);
    const d = (await lastValueFrom(model.events([1, 2, 3], { pickToken: forcing.pickToken, maxTokens: 150 }))) as DoneEvent;
    expect(d.stats.forks).toBe(0);
    expect(d.stats.forksRefused).toBe(1);
    expect(d.finishReason).toBe('stop');
    expect(d.text.endsWith(' after')).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(model.kvStats().freeSlots).toBe(160);
    await model.dispose();
  });
});
