/**
 * Every forked path samples from its own random stream, derived from the request's seed, the fork
 * and the path's index (src/engine/rng.ts `derive`), so with the same seed at temperature 1 a
 * path's sampled tokens do not change with the number of its siblings. A path that drew from its
 * parent's stream would share it with its siblings, and what it draws would depend on how many of
 * them step beside it. Through the public API: the root is forced to write a goal with five
 * outlines, `maxPathsPerFork` opens n of them (so every path sees the same goal), and every path
 * samples.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type GenerationEvent, type Model } from '../src/index.js';
import { tinyModel } from './support/models.js';

const PROMPT = [5, 17, 42, 99];
/** Tokens each path samples before it is closed. */
const SAMPLED = 12;
const OUTLINES = 5;

describe('forked paths draw from their own random streams', () => {
  let model: Model;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 1024 });
  });
  afterAll(() => model.dispose());

  /** Sampled tokens by path branch, for a run whose root forks into `paths` paths. */
  async function pathTokens(paths: number, seed: number): Promise<Map<string, number[]>> {
    const encode = (text: string) => model.tokenizer.encode(text, { addSpecialTokens: false });
    const outlines = Array.from({ length: OUTLINES }, (_, i) => `<Outline>${i + 1}: step</Outline>`).join('');
    const root = encode(` go<Parallel><Goal>${outlines}</Goal> done</Conclusion></Parallel>`);
    const pathClose = model.tokenizer.tokenId('</Path>')!;
    const eos = model.tokenizer.eosTokenIds[0];
    const events = await lastValueFrom(
      model
        .events(PROMPT, {
          temperature: 1,
          seed,
          maxTokens: 200,
          multiverse: { maxPathsPerFork: paths },
          // The root writes its script; a path samples (undefined) until it closes.
          pickToken: ({ branch, generated }) => (branch === '0' ? (root[generated] ?? eos) : generated < SAMPLED ? undefined : pathClose),
        })
        .pipe(toArray()),
    );
    const fork = events.find((e) => e.type === 'fork');
    expect(fork?.type === 'fork' && fork.paths).toHaveLength(paths);
    const sampled = new Map<string, number[]>();
    for (const e of events as GenerationEvent[]) {
      if (e.type !== 'token' || e.branch === '0' || e.forced) continue;
      sampled.set(e.branch, [...(sampled.get(e.branch) ?? []), e.tokenId]);
    }
    return sampled;
  }

  it('a path samples the same tokens whether it has one, two or four siblings', async () => {
    const two = await pathTokens(2, 7);
    const three = await pathTokens(3, 7);
    const five = await pathTokens(5, 7);
    expect([...two.keys()]).toEqual(['0/0', '0/1']);
    for (const tokens of two.values()) expect(tokens.length).toBeGreaterThan(0);
    for (const [branch, tokens] of two) {
      expect(three.get(branch)).toEqual(tokens);
      expect(five.get(branch)).toEqual(tokens);
    }
    expect(five.get('0/2')).toEqual(three.get('0/2'));
  });

  it('the draws are random: siblings differ, and another seed gives other tokens', async () => {
    const a = await pathTokens(2, 7);
    const b = await pathTokens(2, 8);
    expect(a.get('0/0')).not.toEqual(a.get('0/1'));
    expect(b.get('0/0')).not.toEqual(a.get('0/0'));
    expect(b.get('0/1')).not.toEqual(a.get('0/1'));
  });
});
