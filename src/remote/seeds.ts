/**
 * Seeds of remote requests. One generation makes many requests (the root's stretches between
 * forks, each path, each continuation after a merge), and each samples on the server with its own
 * seed: derived from the generation's seed, the branch path and how many requests that branch
 * made before. A run is therefore reproducible on a server that honours `seed`, and no two
 * requests of one run share a random stream.
 */
import { mix32 } from '../engine/rng.js';

/** The seed of request number `round` (0, 1, …) of `branch` in a generation seeded with `seed`: an integer in [0, 2^31). */
export function requestSeed(seed: number, branch: string, round: number): number {
  let h = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 4294967296) >>> 0));
  for (let i = 0; i < branch.length; i++) h = mix32(h ^ mix32(branch.charCodeAt(i) + 1));
  // 31 bits: some servers take the seed as a signed 32-bit integer.
  return mix32(h ^ mix32(round + 0x9e3779b9)) >>> 1;
}

/** Hands out the seeds of one generation's (or session's) requests, counting rounds per branch. */
export class RequestSeeds {
  private readonly rounds = new Map<string, number>();

  constructor(readonly seed: number) {}

  next(branch: string): number {
    const round = this.rounds.get(branch) ?? 0;
    this.rounds.set(branch, round + 1);
    return requestSeed(this.seed, branch, round);
  }
}
