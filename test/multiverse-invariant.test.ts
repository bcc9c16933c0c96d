/**
 * The engine invariant (DESIGN.md §1): a Multiverse transcript driven through fork and merge, with
 * forced tokens, gives the same logits as one dense pass over the flattened transcript under the
 * Multiverse mask and position ids — here with a block nested inside a path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiverseLayout } from '../src/multiverse/attention.js';
import { resolveTagIds, type MultiverseTagIds } from '../src/multiverse/tags.js';
import { loadTokenizer } from '../src/model/tokenizer.js';
import type { NativeEngine } from '../src/native/binding.js';
import { denseForward } from './reference/dense-forward.js';
import { tinyModel } from './support/models.js';
import { engineFor, expectLogitsClose, loadForReference, range, type Loaded } from './support/oracle.js';

/** A sequence being driven: its native id, the next position, and where its rows go in the flat transcript. */
interface Driven {
  seq: number;
  next: number;
}

describe.each(['qwen2', 'llama'] as const)('fork/merge equals the dense Multiverse pass (%s)', (arch) => {
  let model: Loaded;
  let engine: NativeEngine;
  let tags: MultiverseTagIds;
  const rows = new Map<number, Float32Array>(); // flat index -> native logits row
  const flat: number[] = [];

  beforeAll(async () => {
    const dir = tinyModel(arch, 'F32');
    model = await loadForReference(dir);
    const tokenizer = await loadTokenizer(dir);
    tags = resolveTagIds((t) => tokenizer.tokenId(t))!;
    engine = engineFor(model.checkpoint);
  });
  afterAll(() => engine.dispose());

  it('matches positions and logits at every token, and frees everything', async () => {
    const vocab = model.checkpoint.config.vocabSize;
    const t = tags;
    const outline = 300; // stands in for <Outline> text: any ordinary token
    let pos = 0;

    /** Steps several sequences together; `parts[i]` lands at flat indices `at[i]...`. */
    const step = async (parts: { d: Driven; tokens: number[]; at: number }[]) => {
      const out = await engine.step(
        parts.map(({ d, tokens }) => ({ seq: d.seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(d.next, d.next + tokens.length)), logits: 'all' as const })),
      );
      let r = 0;
      for (const { d, tokens, at } of parts) {
        tokens.forEach((_, i) => rows.set(at + i, out.subarray((r + i) * vocab, (r + i + 1) * vocab)));
        r += tokens.length;
        d.next += tokens.length;
      }
    };

    // Root: prefix, then a goal with two outlines.
    const root: Driven = { seq: engine.createSequence(), next: pos };
    const rootTokens = [5, 17, 42, 99, t.parallelOpen, t.goalOpen, outline, 11, outline, 12, t.goalClose];
    await step([{ d: root, tokens: rootTokens, at: 0 }]);
    const goalClose = root.next - 1;

    // Path 1 holds a nested block; path 2 is flat. Their tokens in flat (merge) order:
    const p1a = [t.pathOpen, 31, 32, t.parallelOpen, t.goalOpen, 33, t.goalClose];
    const g1 = [t.pathOpen, 40, 41, t.pathClose];
    const g2 = [t.pathOpen, 50, 51, 52, 53, t.pathClose];
    const p1b = [t.conclusionOpen, 60, t.conclusionClose, t.parallelClose, 61, t.pathClose];
    const p2 = [t.pathOpen, 70, 71, 72, 73, 74, 75, 76, t.pathClose];
    const conclusion = [t.conclusionOpen, 80, 81, t.conclusionClose, t.parallelClose, 90, 91];
    const base = rootTokens.length;
    const at = {
      p1a: base,
      g1: base + p1a.length,
      g2: base + p1a.length + g1.length,
      p1b: base + p1a.length + g1.length + g2.length,
      p2: base + p1a.length + g1.length + g2.length + p1b.length,
    };
    const atConclusion = at.p2 + p2.length;
    flat.push(...rootTokens, ...p1a, ...g1, ...g2, ...p1b, ...p2, ...conclusion);

    const [s1, s2] = engine.fork(root.seq, 2);
    engine.checkIntegrity();
    const path1: Driven = { seq: s1, next: goalClose + 1 };
    const path2: Driven = { seq: s2, next: goalClose + 1 };
    // Both paths step in one batch (their first chunks), as the scheduler would run them.
    await step([
      { d: path1, tokens: p1a, at: at.p1a },
      { d: path2, tokens: p2, at: at.p2 },
    ]);
    const innerGoalClose = path1.next - 1;
    const [gs1, gs2] = engine.fork(path1.seq, 2);
    engine.checkIntegrity();
    const inner1: Driven = { seq: gs1, next: innerGoalClose + 1 };
    const inner2: Driven = { seq: gs2, next: innerGoalClose + 1 };
    await step([
      { d: inner1, tokens: g1, at: at.g1 },
      { d: inner2, tokens: g2, at: at.g2 },
    ]);
    const innerMerged: Driven = { seq: engine.merge(path1.seq, [gs1, gs2]), next: Math.max(inner1.next, inner2.next) };
    engine.checkIntegrity();
    await step([{ d: innerMerged, tokens: p1b, at: at.p1b }]);
    const outer: Driven = { seq: engine.merge(root.seq, [innerMerged.seq, path2.seq]), next: Math.max(innerMerged.next, path2.next) };
    engine.checkIntegrity();
    await step([{ d: outer, tokens: conclusion, at: atConclusion }]);

    // Positions: the engine's fork/merge rule against the training collator's layout.
    const layout = multiverseLayout(flat, tags);
    expect([...engine.sequencePositions(outer.seq)]).toEqual(layout.positions);
    // Sanity of the oracle itself: paths share start positions, so positions repeat.
    expect(new Set(layout.positions).size).toBeLessThan(flat.length);

    const reference = denseForward(model.checkpoint.config, model.weights, flat, layout.positions, layout.visible);
    expect(rows.size).toBe(flat.length);
    const native = new Float32Array(flat.length * vocab);
    flat.forEach((_, i) => native.set(rows.get(i)!, i * vocab));
    expectLogitsClose(native, reference, vocab);

    for (const s of [gs1, gs2, path1.seq, innerMerged.seq, path2.seq, root.seq, outer.seq]) {
      engine.release(s);
      engine.checkIntegrity();
    }
    expect(engine.kvStats().freeSlots).toBe(engine.kvStats().totalSlots);
  });
});
