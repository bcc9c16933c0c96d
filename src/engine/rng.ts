/**
 * Seeded random streams for sampling: xoshiro128** (Blackman & Vigna) with its 128-bit state
 * expanded from a 64-bit stream key by splitmix32. Only 32-bit integer operations are used, so a
 * seed gives the same stream on every platform, and no BigInt is needed on the hot path.
 *
 * A stream is named by its key: the seed for a root stream, or (parent key, index) for a child.
 * `derive(i)` hashes the parent's key with `i`, never its current state, so child i of a request
 * draws the same numbers whatever the parent drew before the fork, and siblings are independent.
 */

/** splitmix32's golden-ratio increment. */
const GOLDEN = 0x9e3779b9;

/** Murmur3's 32-bit finaliser: a bijection on uint32 that spreads every input bit. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The k-th output of a splitmix32 sequence started at `state`. */
function splitmix32(state: number, k: number): number {
  return mix32((state + Math.imul(k, GOLDEN)) >>> 0);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const TWO_POW_32 = 4294967296;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(
    private readonly key0: number,
    private readonly key1: number,
  ) {
    // Two outputs from each key word. mix32 is a bijection and the two outputs of one word
    // differ, so the state is never all zero (xoshiro's one forbidden state).
    this.s0 = splitmix32(key0, 1);
    this.s1 = splitmix32(key0, 2);
    this.s2 = splitmix32(key1, 1);
    this.s3 = splitmix32(key1, 2);
  }

  /**
   * The root stream for `seed`: any safe integer (negative ones included); the whole 53 bits count.
   * @throws RangeError when `seed` is not a safe integer.
   */
  static fromSeed(seed: number): Rng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
    return new Rng(seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0);
  }

  /**
   * Child stream `streamIndex` (an integer in [0, 2^32)): reproducible, independent of this
   * stream's position, and unrelated to its siblings and to this stream.
   * @throws RangeError when `streamIndex` is out of range.
   */
  derive(streamIndex: number): Rng {
    if (!Number.isInteger(streamIndex) || streamIndex < 0 || streamIndex >= TWO_POW_32) {
      throw new RangeError(`Rng stream index must be an integer in [0, 2^32), got ${streamIndex}`);
    }
    // Each key word absorbs the other word and the index, so (key, i) pairs collide only by chance.
    const i = mix32(streamIndex);
    return new Rng(mix32((this.key0 ^ mix32(this.key1 ^ GOLDEN)) + i), mix32((this.key1 ^ i) + mix32(this.key0)));
  }

  /** Next uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Next uniform float in [0, 1), with 53 random bits (two draws) so tiny probabilities still count. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
}
