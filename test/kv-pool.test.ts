/**
 * The KV pool's contract through the native engine: fork and merge share segments by reference,
 * release frees exactly, integrity holds after every operation, and bad calls change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { loadNative, type NativeEngine, type StepItem } from '../src/native/binding.js';
import { tinyModel } from './support/models.js';

let engine: NativeEngine;
const SLOTS = 64;

beforeAll(async () => {
  const ck = await openCheckpoint(tinyModel('qwen2', 'F32'));
  const c = ck.config;
  engine = new (loadNative().Engine)({
    ...c,
    architecture: c.architecture,
    kvSlots: SLOTS,
    threads: 2,
    kernels: 'auto',
    tensors: ck.tensors,
  });
});
afterAll(() => engine.dispose());

function item(seq: number, tokens: number[], firstPos: number): StepItem {
  return {
    seq,
    tokens: Int32Array.from(tokens),
    positions: Int32Array.from(tokens.map((_, i) => firstPos + i)),
    logits: 'none',
  };
}

function ok(): void {
  engine.checkIntegrity();
}

describe('KV pool', () => {
  it('forks and merges by reference and frees exactly on release', async () => {
    const root = engine.createSequence();
    ok();
    await engine.step([item(root, [1, 2, 3, 4, 5], 0)]);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS - 5);

    const [a, b] = engine.fork(root, 2);
    ok();
    // Fork copies nothing: no slot is used and both children see the prefix.
    expect(engine.kvStats().freeSlots).toBe(SLOTS - 5);
    expect(engine.sequenceLength(a)).toBe(5);

    // Both paths start at the same position, as Multiverse paths do.
    await engine.step([item(a, [6, 7], 5), item(b, [8, 9, 10], 5)]);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS - 10);
    expect([...engine.sequencePositions(a)]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([...engine.sequencePositions(b)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const merged = engine.merge(root, [a, b]);
    ok();
    expect(engine.sequenceLength(merged)).toBe(10);
    expect([...engine.sequencePositions(merged)]).toEqual([0, 1, 2, 3, 4, 5, 6, 5, 6, 7]);
    expect(engine.kvStats().freeSlots).toBe(SLOTS - 10);

    // The children's slots survive their release: the merged sequence holds them.
    engine.release(a);
    ok();
    engine.release(b);
    ok();
    engine.release(root);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS - 10);
    await engine.step([item(merged, [11], 8)]);
    ok();
    engine.release(merged);
    ok();
    expect(engine.kvStats()).toEqual({ totalSlots: SLOTS, freeSlots: SLOTS, sequences: 0, segments: 0 });
  });

  it('gives a parent that appends after a fork its own segment, invisible to the children', async () => {
    const root = engine.createSequence();
    await engine.step([item(root, [1, 2], 0)]);
    const [child] = engine.fork(root, 1);
    await engine.step([item(root, [3], 2), item(child, [4], 2)]);
    ok();
    expect(engine.sequenceLength(root)).toBe(3);
    expect(engine.sequenceLength(child)).toBe(3);
    // The child no longer starts with the parent's segments, so merging them is refused.
    expect(() => engine.merge(root, [child])).toThrow(/does not start with the segments/);
    ok();
    engine.release(root);
    engine.release(child);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS);
  });

  it('nests forks and merges', async () => {
    const root = engine.createSequence();
    await engine.step([item(root, [1, 2], 0)]);
    const [p1, p2] = engine.fork(root, 2);
    await engine.step([item(p1, [3], 2), item(p2, [4, 5], 2)]);
    const [q1, q2] = engine.fork(p1, 2);
    await engine.step([item(q1, [6], 3), item(q2, [7, 8, 9], 3)]);
    const inner = engine.merge(p1, [q1, q2]);
    ok();
    await engine.step([item(inner, [10], 6)]);
    const outer = engine.merge(root, [inner, p2]);
    ok();
    expect([...engine.sequencePositions(outer)]).toEqual([0, 1, 2, 3, 3, 4, 5, 6, 2, 3]);
    for (const s of [q1, q2, p1, inner, p2, root]) {
      engine.release(s);
      ok();
    }
    engine.release(outer);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS);
  });

  it('rejects a bad step and changes nothing', async () => {
    const s = engine.createSequence();
    const before = engine.kvStats();
    await expect(engine.step([item(s, [1], 0), item(s, [2], 1)])).rejects.toThrow(/appears twice/);
    await expect(engine.step([item(s, [100000], 0)])).rejects.toThrow(/outside the vocabulary/);
    await expect(engine.step([item(9999, [1], 0)])).rejects.toThrow(/unknown sequence/);
    await expect(engine.step([item(s, Array(SLOTS + 1).fill(1), 0)])).rejects.toThrow(/KV pool exhausted/);
    await expect(engine.step([{ ...item(s, [1, 2], 0), positions: Int32Array.from([0]) }])).rejects.toThrow(/differ in length/);
    expect(engine.kvStats()).toEqual(before);
    ok();
    engine.release(s);
    expect(() => engine.release(s)).toThrow(/unknown sequence/);
    expect(() => engine.fork(12345, 2)).toThrow(/unknown sequence/);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS);
  });

  it('allows fork and release while a step is in flight, but not a second step', async () => {
    const s = engine.createSequence();
    await engine.step([item(s, [1, 2], 0)]);
    const other = engine.createSequence();
    const running = engine.step([item(s, [3], 2), item(other, [4, 5], 0)]);
    await expect(engine.step([item(s, [6], 3)])).rejects.toThrow(/already in flight/);
    const [child] = engine.fork(s, 1);
    engine.release(other); // its step results are simply dropped
    ok();
    await running;
    ok();
    // The child forked mid-step holds the parent's segments; the step's token went in after.
    expect(engine.sequenceLength(child)).toBe(3);
    expect(engine.sequenceLength(s)).toBe(3);
    for (const q of [s, child]) engine.release(q);
    ok();
    expect(engine.kvStats().freeSlots).toBe(SLOTS);
  });
});
