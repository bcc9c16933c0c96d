/**
 * `multiverse score` as a user runs it: the compiled CLI (npm test builds dist/ first) against
 * model.score in this process, for a transcript with a parallel block; the table; exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { denseForward } from './reference/dense-forward.js';
import { cli } from './support/cli.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { tinyModel } from './support/models.js';
import { causal, loadForReference, range } from './support/oracle.js';

describe('multiverse score', () => {
  const dir = tinyModel('qwen2', 'F32');
  let model: Model;
  let transcript: number[];

  beforeAll(async () => {
    model = await loadModel(dir);
    transcript = model.tokenizer.encode(' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline></Goal><Path>1: one</Path><Path>2: two two</Path><Conclusion> uv</Conclusion></Parallel> ok', {
      addSpecialTokens: false,
    });
  });
  afterAll(() => model.dispose());

  it('prints one JSON line per token with model.score\'s logprobs, then a summary', async () => {
    const r = cli('score', '--model', dir, '--tokens', transcript.join(','), '--top-logprobs', '2', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const expected = await model.score(transcript, { topLogprobs: 2 });
    const tokens = lines.slice(0, -1);
    expect(tokens.map((t) => t.type)).toEqual(transcript.map(() => 'token'));
    expect(tokens.map((t) => t.tokenId)).toEqual(transcript);
    expect(tokens.map((t) => t.position)).toEqual(expected.tokens.map((t) => t.position));
    expect(tokens[0].logprob).toBeNull();
    tokens.slice(1).forEach((t, i) => {
      expect(t.logprob).toBeCloseTo(expected.tokens[i + 1].logprob!, 5);
      expect(Object.keys(t.topLogprobs)).toHaveLength(2);
    });
    // The paths share positions: the second path's <Path> takes the first one's.
    const opens = tokens.filter((t) => t.text === '<Path>');
    expect(opens).toHaveLength(2);
    expect(opens[0].position).toBe(opens[1].position);
    const summary = lines.at(-1);
    expect(summary).toMatchObject({ type: 'summary', tokens: transcript.length });
    expect(summary.totalLogprob).toBeCloseTo(expected.totalLogprob, 4);
    expect(summary.meanLogprob).toBeCloseTo(expected.meanLogprob, 5);
  });

  it('prints a table for text through the chat template', () => {
    const r = cli('score', '--model', dir, 'Compute 12*3 + 4*5');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/index\s+position\s+token\s+logprob\s+text/);
    expect(lines.at(-1)).toMatch(/^total logprob -\d+\.\d+, mean -\d+\.\d+ over \d+ scored tokens$/);
    expect(r.stderr).toMatch(/loaded in \d+ ms/);
  });

  it('shows top logprobs as token text, each with its logprob', () => {
    const r = cli('score', '--model', 'models/multiverse-arith', '--top-logprobs', '2', 'Compute 17*3');
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').slice(2, -1);
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(row).toMatch(/"[^"]*" +"[^"]*" -?\d+\.\d{3}  "[^"]*" -?\d+\.\d{3}$/);
  });

  it('exits 2 on a usage error and 1 with the code on a malformed transcript', () => {
    expect(cli('score', '--model', dir).code).toBe(2);
    expect(cli('score', '--model', dir, 'hi', '--tokens', '1,2').code).toBe(2);
    const tag = (t: string) => String(model.tokenizer.tokenId(t));
    const bad = cli('score', '--model', dir, '--tokens', ['5', tag('<Parallel>'), tag('<Path>'), '6'].join(','), '--json');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/INVALID_REQUEST: token 2: unexpected <Path>/);
  });

  it('--no-multiverse scores the transcript as plain causal text: a dense causal pass over the same tokens', async () => {
    const r = cli('score', '--model', dir, '--tokens', transcript.join(','), '--no-multiverse', '--json');
    expect(r.code).toBe(0);
    const tokens = r.stdout.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l));
    const ref = await loadForReference(dir);
    const rows = denseForward(ref.checkpoint.config, ref.weights, transcript, range(0, transcript.length), causal);
    expect(tokens.map((t) => t.position)).toEqual(range(0, transcript.length));
    // The CLI runs the default f16 KV cache: keys and values rounded to 2^-11, logprobs within ~1e-4.
    tokens.slice(1).forEach((t, i) => expect(t.logprob).toBeCloseTo(logSoftmaxAt(rows[i], transcript[i + 1]), 3));
    // The library option gives the same; Multiverse scoring of this transcript differs (paths share positions).
    const plain = await model.score(transcript, { multiverse: { enabled: false } });
    plain.tokens.slice(1).forEach((t, i) => expect(t.logprob).toBeCloseTo(tokens[i + 1].logprob, 5));
    const structured = await model.score(transcript);
    const apart = structured.tokens.slice(1).map((t, i) => Math.abs(t.logprob! - plain.tokens[i + 1].logprob!));
    expect(Math.max(...apart)).toBeGreaterThan(1e-3);
  });
});
