/**
 * A small, fast, seeded pseudo-random generator for test data: xoshiro128** seeded through
 * splitmix32. Same seed, same stream, on every platform (only 32-bit integer ops are used).
 */

/** One splitmix32 step: a good mixer for turning any 32-bit value into a well-spread one. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Derives an independent seed from a base seed and a label (FNV-1a over the label, then mixed),
 * so each tensor of a checkpoint gets its own stream and its values do not depend on write order.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ splitmix32(seed >>> 0);
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return splitmix32(h >>> 0);
}

/** xoshiro128** generator. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // Four chained splitmix32 outputs; xoshiro needs a state that is not all zero, which this gives.
    this.a = splitmix32(seed >>> 0);
    this.b = splitmix32(this.a);
    this.c = splitmix32(this.b);
    this.d = splitmix32(this.c);
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
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

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
