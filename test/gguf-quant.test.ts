/**
 * The engine on GGUF weights it needs native support for: quantized matrices (Q8_0, Q4_0, Q4_K,
 * Q6_K, read block by block) against the float64 dense reference over the exactly dequantized
 * file, and llama files (q/k rows in llama.cpp's order, run with interleaved rope:
 * `ropeStyle: 'interleaved'` in the engine spec) against their safetensors twins.
 *
 * Quantized tolerance: 3e-2 × the reference logits' largest magnitude. The kernels may round
 * activations to 8-bit blocks for integer dot products as llama.cpp does; llama.cpp's own deviation
 * from this reference on the same files is ≤ 9.2e-3 of the logit range (test/gguf-llama-cpp), and
 * a misplaced nibble, scale or row moves logits by the order of the scale itself.
 */
import { describe, it } from 'vitest';
import type { Architecture, WeightDtype } from '../src/model/config.js';
import type { GgmlType } from '../src/model/gguf/ggml-types.js';
import { openModel } from '../src/model/open-model.js';
import { Prng } from '../src/testkit/prng.js';
import { denseForward } from './reference/dense-forward.js';
import { loadGgufForReference, tinyGguf, TINY_256 } from './support/gguf-models.js';
import { tinyModel } from './support/models.js';
import { causal, engineFor, expectLogitsClose, range } from './support/oracle.js';

const QUANT_TOLERANCE = 3e-2;

function randomTokens(seed: number, n: number, vocab: number): number[] {
  const rng = new Prng(seed);
  return Array.from({ length: n }, () => Math.floor(rng.nextFloat() * vocab));
}

/** Logits of a prefill of all but the last token ('all'), then a decode step of the last. */
async function engineLogits(file: string, tokens: number[]): Promise<Float32Array> {
  const { checkpoint } = await openModel(file);
  const engine = engineFor(checkpoint);
  try {
    const seq = engine.createSequence();
    const n = tokens.length - 1;
    const prefill = await engine.step([{ seq, tokens: Int32Array.from(tokens.slice(0, n)), positions: Int32Array.from(range(0, n)), logits: 'all' }]);
    const decode = await engine.step([{ seq, tokens: Int32Array.of(tokens[n]), positions: Int32Array.of(n), logits: 'last' }]);
    const out = new Float32Array(prefill.length + decode.length);
    out.set(prefill);
    out.set(decode, prefill.length);
    return out;
  } finally {
    engine.dispose();
  }
}

const QUANT_CASES: [Architecture, GgmlType][] = (['qwen2', 'llama'] as const).flatMap((arch) =>
  (['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const).map((type): [Architecture, GgmlType] => [arch, type]),
);

describe.each(QUANT_CASES)('%s %s GGUF', (arch, type) => {
  it('prefill and decode logits equal the dense reference over the dequantized weights', async () => {
    const file = tinyGguf(arch, type, type.endsWith('_K') ? TINY_256 : {});
    const ref = loadGgufForReference(file);
    const tokens = randomTokens(3, 12, 496);
    const reference = denseForward(ref.checkpoint.config, ref.weights, tokens, range(0, tokens.length), causal);
    expectLogitsClose(await engineLogits(file, tokens), reference, 512, QUANT_TOLERANCE);
  });
});

describe.each<WeightDtype>(['F32', 'F16', 'BF16'])('llama %s GGUF', (dtype) => {
  it('gives the logits of the same model in safetensors (q/k rows in llama.cpp order, interleaved rope)', async () => {
    const tokens = randomTokens(4, 12, 496);
    const fromFolder = await engineLogits(tinyModel('llama', dtype), tokens);
    const rows = Array.from({ length: tokens.length }, (_, r) => Float64Array.from(fromFolder.subarray(r * 512, (r + 1) * 512)));
    expectLogitsClose(await engineLogits(tinyGguf('llama', dtype), tokens), rows, 512);
  });
});
