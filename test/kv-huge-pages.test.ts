/**
 * The KV cache asks the kernel for 2 MB pages (native/common/huge_buffer.h): where transparent huge
 * pages are offered on request, a model's K and V arrays show up in the process's AnonHugePages,
 * and they are given back when the model is disposed. Where the system offers none, the cache
 * works on ordinary pages and AnonHugePages does not move.
 */
import fs from 'node:fs';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { tinyModel } from './support/models.js';

const HUGE_PAGE = 2 << 20;

/** The process's anonymous memory on huge pages, in bytes (the kernel's own accounting). */
function anonHugeBytes(): number {
  const kb = /AnonHugePages:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'));
  if (!kb) throw new Error('no AnonHugePages line in /proc/self/smaps_rollup');
  return Number(kb[1]) * 1024;
}

/** The bracketed mode of /sys/kernel/mm/transparent_hugepage/enabled: always, madvise or never. */
function thpMode(): string {
  const text = fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  return /\[(\w+)\]/.exec(text)?.[1] ?? 'never';
}

describe('KV cache pages', () => {
  it('backs K and V with huge pages where the system offers them, and returns them on dispose', async () => {
    const dir = tinyModel('qwen2', 'F32');
    const { config } = await openCheckpoint(dir);
    const slotBytes = config.numLayers * config.numKvHeads * config.headDim * 2; // f16 K (or V) of one slot, all layers
    const kvSlots = Math.ceil((16 << 20) / slotBytes); // 16 MB each for K and V
    const wholePages = 2 * Math.floor((kvSlots * slotBytes) / HUGE_PAGE) * HUGE_PAGE;

    const before = anonHugeBytes();
    const model = await loadModel(dir, { kvSlots, contextLength: 256 });
    const loaded = anonHugeBytes();
    // The cache works either way: a few greedy tokens.
    const done = await lastValueFrom(model.events('Compute 12*3', { maxTokens: 4, temperature: 0 }));
    expect(done.type === 'done' && done.usage.completionTokens).toBeGreaterThan(0);
    await model.dispose();
    const after = anonHugeBytes();

    if (thpMode() === 'never') {
      expect(loaded - before).toBe(0);
    } else {
      expect(loaded - before).toBeGreaterThanOrEqual(wholePages);
      expect(loaded - after).toBeGreaterThanOrEqual(wholePages);
    }
  });
});
