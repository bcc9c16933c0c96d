/**
 * Seeded random values for test data, drawn from the engine's own generator (src/engine/rng.ts):
 * same seed, same stream, on every platform.
 */
import { mix32, Rng } from '../engine/rng.js';

/**
 * Derives an independent seed from a base seed and a label (FNV-1a over the label, then mixed),
 * so each tensor of a checkpoint gets its own stream and its values do not depend on write order.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ mix32(seed >>> 0);
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return mix32(h >>> 0);
}

export class Prng {
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = Rng.fromSeed(seed);
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    return this.rng.nextUint32();
  }

  /** Uniform in [0, 1) from one 32-bit draw: plenty for test weights, half the cost of Rng.nextFloat. */
  nextFloat(): number {
    return this.rng.nextUint32() / 4294967296;
  }

  /**
   * Approximately standard normal (mean 0, variance 1): the Irwin–Hall sum of four uniforms,
   * centred and scaled. Cheaper than Box–Muller, and its tails stop at ±2√3, which keeps random
   * weights (and so the logits of random test models) in a predictable range.
   */
  normalish(): number {
    const sum = this.nextFloat() + this.nextFloat() + this.nextFloat() + this.nextFloat();
    return (sum - 2) * SQRT3;
  }
}

const SQRT3 = Math.sqrt(3);
