/**
 * `multiverse score --json` against the training loss: for flat and nested Multiverse transcripts
 * of random checkpoints, every token's logprob equals log-softmax of the dense float64 Multiverse
 * pass's row of the token before it in the flattened transcript — path openers included, where
 * the previous path's `</Path>` row predicts the next `<Path>`. The mask and positions come from
 * the paper's rule (test/reference/multiverse-rule.ts), not from the code under test.
 */
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { denseForward } from './reference/dense-forward.js';
import { multiverseRule } from './reference/multiverse-rule.js';
import { cli } from './support/cli.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { tinyModel } from './support/models.js';
import { loadForReference } from './support/oracle.js';

/** Three paths in one block. */
const FLAT =
  ' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline><Outline>3: w</Outline></Goal>' +
  '<Path>1: one one</Path><Path>2: two</Path><Path>3: three three three</Path><Conclusion> uvw</Conclusion></Parallel> ok';

/** Three levels: outer path 1 holds a block whose path 2 holds another; path lengths differ at every level. */
const NESTED =
  ' plan<Parallel><Goal><Outline>1: left</Outline><Outline>2: right</Outline></Goal>' +
  '<Path>1: L<Parallel><Goal><Outline>1.1: a</Outline><Outline>1.2: b</Outline><Outline>1.3: c</Outline></Goal>' +
  '<Path>1.1: x</Path><Path>1.2: y<Parallel><Goal><Outline>1: p</Outline><Outline>2: q</Outline></Goal>' +
  '<Path>1: s</Path><Path>2: t t t</Path><Conclusion> pq</Conclusion></Parallel></Path><Path>1.3: z z</Path>' +
  '<Conclusion> abc</Conclusion></Parallel> l</Path><Path>2: R r r r r r</Path><Conclusion> both</Conclusion></Parallel> end';

/** The CLI's token lines for `tokens`. */
function scoreWithCli(dir: string, tokens: number[]): { tokenId: number; position: number; logprob: number | null }[] {
  const r = cli('score', '--model', dir, '--tokens', tokens.join(','), '--json');
  expect(r.stderr).not.toMatch(/Error/);
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l));
}

describe.each(['qwen2', 'llama'] as const)('multiverse score equals the dense Multiverse pass (%s, random weights)', (arch) => {
  it.each([
    ['flat', FLAT, 2],
    ['nested', NESTED, 4],
  ] as const)('at every token of a %s transcript, each later path opener included', async (_, text, laterOpeners) => {
    const dir = tinyModel(arch, 'F32');
    const tokenizer = await loadTokenizer(dir);
    const tokens = tokenizer.encode(text, { addSpecialTokens: false });
    const tagId = (t: string) => tokenizer.tokenId(t)!;
    const { positions, mask } = multiverseRule(tokens, tagId);
    const ref = await loadForReference(dir);
    const dense = denseForward(ref.checkpoint.config, ref.weights, tokens, positions, mask);

    const scored = scoreWithCli(dir, tokens);
    expect(scored.map((t) => t.tokenId)).toEqual(tokens);
    expect(scored.map((t) => t.position)).toEqual(positions);
    expect(scored[0].logprob).toBeNull();
    // The training loss's rule: row i - 1 of the flattened transcript predicts token i. The CLI's
    // KV cache is f16 (K and V rounded to 2^-11 relative): logprobs agree to ~1e-4 (6e-5 measured).
    const error = scored.slice(1).map((t, i) => Math.abs(t.logprob! - logSoftmaxAt(dense[i], tokens[i + 1])));
    const off = error.flatMap((e, i) => (e < 2e-4 ? [] : [{ token: i + 1, error: e }]));
    expect(off).toEqual([]);

    // The transcript has the openers this test is about: a <Path> right after a </Path>.
    const openers = tokens.flatMap((t, i) => (t === tagId('<Path>') && tokens[i - 1] === tagId('</Path>') ? [i] : []));
    expect(openers).toHaveLength(laterOpeners);
  });
});
