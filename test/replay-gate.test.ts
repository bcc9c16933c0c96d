/**
 * The gate a preempted request's rerun streams through: each branch's events reach the consumer
 * once, whatever the interleaving of branches in the rerun, and a rerun that writes otherwise
 * fails with ENGINE_ERROR instead of sending a stream that contradicts itself.
 */
import { describe, expect, it } from 'vitest';
import { ReplayGate } from '../src/rx/replay-gate.js';
import type { ForkEvent, TokenEvent } from '../src/index.js';

const token = (branch: string, tokenId: number): TokenEvent => ({ type: 'token', branch, tokenId, position: 0, text: '', logprob: 0 });
const fork: ForkEvent = { type: 'fork', branch: '0', goal: '', paths: [], dropped: 0 };

describe('ReplayGate', () => {
  it('passes a rerun only what each branch had not sent, in any interleaving of branches', () => {
    const gate = new ReplayGate();
    const first = [token('0', 5), fork, token('0/0', 7), token('0/1', 9), token('0/0', 8)];
    expect(first.map((e) => gate.pass(e))).toEqual([true, true, true, true, true]);
    gate.rerun();
    // The rerun's paths interleave otherwise, and go further: only 0/1's second token and 0/0's third are new.
    const rerun = [token('0', 5), fork, token('0/1', 9), token('0/1', 4), token('0/0', 7), token('0/0', 8), token('0/0', 6)];
    expect(rerun.map((e) => gate.pass(e))).toEqual([false, false, false, true, false, false, true]);
  });

  it('fails with ENGINE_ERROR when a rerun writes another token where one was sent', () => {
    const gate = new ReplayGate();
    gate.pass(token('0', 5));
    gate.pass(token('0', 6));
    gate.rerun();
    expect(gate.pass(token('0', 5))).toBe(false);
    expect(() => gate.pass(token('0', 7))).toThrow(expect.objectContaining({ code: 'ENGINE_ERROR', message: expect.stringMatching(/branch 0 wrote 7 where it had sent 6/) }));
  });
});
