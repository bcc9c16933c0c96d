/**
 * A stand-in for the native engine in unit tests of the step loop and sequences: sequences are
 * lists of slots (token, position) shared by reference the way the KV pool shares segments, every
 * call is recorded, and each logits row names what produced it (row[0] = sequence id, row[1] =
 * the token's position, row[2] = the token), so a test can tell which row went where.
 */
import type { KvStats, StepItem } from '../../src/native/binding.js';
import type { StepEngine } from '../../src/engine/step-loop.js';

interface Slot {
  token: number;
  position: number;
}

export const FAKE_VOCAB = 4;

export class FakeEngine implements StepEngine {
  /** Each step's items as the engine received them (copies). */
  readonly steps: { seq: number; tokens: number[]; positions: number[]; logits: string }[][] = [];
  readonly merges: { prefix: number; children: number[] }[] = [];
  readonly released: number[] = [];
  /** When set, the next step waits for this promise before it answers. */
  gate?: Promise<void>;
  /** When set, steps reject with it. */
  failWith?: Error;
  private readonly seqs = new Map<number, Slot[]>();
  private nextId = 1;

  constructor(private readonly capacity = 1000) {}

  /** Live native sequences. */
  get live(): number[] {
    return [...this.seqs.keys()];
  }

  slots(seq: number): Slot[] {
    const slots = this.seqs.get(seq);
    if (!slots) throw new Error(`fake engine: unknown sequence ${seq}`);
    return slots;
  }

  createSequence(): number {
    return this.add([]);
  }

  fork(seq: number, n: number): number[] {
    const parent = this.slots(seq);
    return Array.from({ length: n }, () => this.add([...parent]));
  }

  merge(prefix: number, children: number[]): number {
    const head = this.slots(prefix);
    this.merges.push({ prefix, children: [...children] });
    const own = children.map((c) => {
      const slots = this.slots(c);
      if (head.some((s, i) => slots[i] !== s)) throw new Error(`fake engine: ${c} does not continue ${prefix}`);
      return slots.slice(head.length);
    });
    return this.add([...head, ...own.flat()]);
  }

  release(seq: number): void {
    this.released.push(seq);
    this.seqs.delete(seq);
  }

  sequenceLength(seq: number): number {
    return this.slots(seq).length;
  }

  kvStats(): KvStats {
    const used = new Set([...this.seqs.values()].flat()).size;
    return { totalSlots: this.capacity, freeSlots: this.capacity - used, sequences: this.seqs.size, segments: 0 };
  }

  async step(items: StepItem[]): Promise<Float32Array> {
    this.steps.push(items.map((it) => ({ seq: it.seq, tokens: [...it.tokens], positions: [...it.positions], logits: it.logits })));
    const gate = this.gate;
    this.gate = undefined;
    await gate;
    if (this.failWith) throw this.failWith;
    const rows: number[][] = [];
    for (const it of items) {
      const slots = this.slots(it.seq);
      const added = [...it.tokens].map((token, i) => ({ token, position: it.positions[i] }));
      slots.push(...added);
      const wanted = it.logits === 'all' ? added : it.logits === 'last' ? added.slice(-1) : [];
      for (const s of wanted) rows.push([it.seq, s.position, s.token, 0].slice(0, FAKE_VOCAB));
    }
    return Float32Array.from(rows.flat());
  }

  private add(slots: Slot[]): number {
    const id = this.nextId++;
    this.seqs.set(id, slots);
    return id;
  }
}

/** Settles pending setImmediate callbacks (the step loop schedules each tick with one). */
export async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
