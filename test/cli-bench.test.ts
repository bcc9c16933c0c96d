/**
 * `multiverse bench` as a user runs it (the compiled CLI): the JSON report's shape and the figures
 * that follow from the model (the weight bytes one decode step streams; tied embeddings included).
 * Speed itself is never asserted here; it is measured by `npm run bench:peer`.
 */
import { describe, expect, it } from 'vitest';
import { openModel } from '../src/model/open-model.js';
import { cli } from './support/cli.js';
import { tinyModel } from './support/models.js';

describe('multiverse bench', () => {
  it('--json prints one report as the last line of stdout', async () => {
    const path = tinyModel('llama', 'F32');
    const r = cli('bench', '--model', path, '--prompt-tokens', '32', '--sequences', '1,3', '--passes', '1', '--threads', '1', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ model: path, threads: 1, prefill: { tokens: 32 }, decode: [{ sequences: 1, context: 64 }, { sequences: 3, context: 64 }] });
    expect(report.machine).toMatch(/cores/);
    for (const rate of [report.prefill.tokensPerSecond, ...report.decode.map((d: { tokensPerSecond: number }) => d.tokensPerSecond), report.bandwidth.bytesPerSecond, report.bandwidth.readBytesPerSecond]) {
      expect(rate).toBeGreaterThan(0);
      expect(Number.isFinite(rate)).toBe(true);
    }
    // What one decode step reads: every tensor but the embedding table, unless it doubles as the output.
    const { checkpoint } = await openModel(path);
    const bytes = checkpoint.tensors.reduce((n, t) => n + t.byteLength, 0);
    const embed = checkpoint.tensors[0].byteLength;
    expect(report.weightBytesPerStep).toBe(checkpoint.config.tieWordEmbeddings ? bytes : bytes - embed);
    // And the f16 K and V of one context token: a row of numKvHeads x headDim in every layer, K and V.
    const { numLayers, numKvHeads, headDim } = checkpoint.config;
    expect(report.kvBytesPerToken).toBe(numLayers * numKvHeads * headDim * 2 * 2);
    // The triad bound on the engine's thread count; each one-sequence row carries its own share,
    // of the weights and the 64 context tokens' K and V.
    const stepBytes = report.weightBytesPerStep + 64 * report.kvBytesPerToken;
    expect(report.bandwidth.method).toBe('STREAM triad, 1 thread');
    expect(report.bandwidthFraction).toBeCloseTo((stepBytes * report.decode[0].tokensPerSecond) / report.bandwidth.bytesPerSecond, 10);
    expect(report.decode[0].bandwidthFraction).toBe(report.bandwidthFraction);
    // And against what the same thread reads when only reading.
    expect(report.readFraction).toBeCloseTo((stepBytes * report.decode[0].tokensPerSecond) / report.bandwidth.readBytesPerSecond, 10);
    expect(report.decode[1].bandwidthFraction).toBeUndefined();
    // The same row against the triad probed right around it, one of the probes the run's bound is the best of.
    const { adjacentTriad, adjacentBandwidthFraction } = report.decode[0];
    expect(adjacentTriad).toBeGreaterThan(0);
    expect(adjacentTriad).toBeLessThanOrEqual(report.bandwidth.bytesPerSecond);
    expect(adjacentBandwidthFraction).toBeCloseTo((stepBytes * report.decode[0].tokensPerSecond) / adjacentTriad, 10);
    expect(report.decode[1].adjacentTriad).toBeUndefined();
  });

  it('--context takes a list: decode is timed at every context for every sequence count', () => {
    const r = cli('bench', '--model', tinyModel('qwen2', 'F32'), '--prompt-tokens', '8', '--sequences', '1,2', '--context', '16,600', '--passes', '1', '--threads', '1', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report.decode.map((d: { sequences: number; context: number }) => [d.sequences, d.context])).toEqual([[1, 16], [2, 16], [1, 600], [2, 600]]);
    // Each one-sequence row's share counts the K and V of its own context.
    for (const d of [report.decode[0], report.decode[2]]) {
      const stepBytes = report.weightBytesPerStep + d.context * report.kvBytesPerToken;
      expect(d.bandwidthFraction).toBeCloseTo((stepBytes * d.tokensPerSecond) / report.bandwidth.bytesPerSecond, 10);
      expect(d.adjacentBandwidthFraction).toBeCloseTo((stepBytes * d.tokensPerSecond) / d.adjacentTriad, 10);
    }
  });

  it('exits 2 with a bad --sequences', () => {
    const r = cli('bench', '--model', tinyModel('qwen2', 'F32'), '--sequences', '1,x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sequences must be comma-separated positive integers/);
  });
});
