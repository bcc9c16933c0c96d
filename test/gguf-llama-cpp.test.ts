/**
 * An independent check of the GGUF files our testkit writes: llama.cpp (the libllama bundled in
 * node-llama-cpp) loads each one and its next-token logprobs match the float64 dense reference run
 * over our own exact dequantization of the file. This pins the block layouts (writer and
 * dequantizer agree with ggml's, not just with each other), the tokenizer metadata llama.cpp
 * needs, and the llama q/k row order (the reference undoes it and runs Hugging Face's rope; llama.cpp
 * runs its interleaved rope on the rows as stored).
 *
 * Tolerances, relative to the reference logits' range, from what llama.cpp itself rounds: its KV
 * cache is f16 and it rounds activations to the weights' kind before the dot products (f16 for
 * F16: measured ≤ 3e-4 with F32 too; bf16 for BF16: 1.9e-3; 8-bit blocks for the quantized
 * types, Q8_0 or Q8_K: ≤ 9.2e-3). A layout error (a nibble, a scale or a row in the wrong place)
 * moves logprobs by the order of the range itself.
 */
import { getLlama, LlamaLogLevel, type Llama, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Architecture } from '../src/model/config.js';
import type { GgmlType } from '../src/model/gguf/ggml-types.js';
import { denseForward } from './reference/dense-forward.js';
import { logSoftmaxAt } from './support/log-softmax.js';
import { loadGgufForReference, tinyGguf, TINY_256 } from './support/gguf-models.js';
import { causal, range } from './support/oracle.js';

const TOKENS = [5, 100, 200, 300, 486, 17, 99, 250];
const TOLERANCE: Record<GgmlType, number> = { F32: 2e-3, F16: 2e-3, BF16: 1e-2, Q8_0: 3e-2, Q4_0: 3e-2, Q4_K: 3e-2, Q6_K: 3e-2 };
// Every type on qwen2; on llama (the permuted q/k rows) one float and one block size of each kind.
const CASES: [Architecture, GgmlType][] = [
  ...(['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const).map((t): [Architecture, GgmlType] => ['qwen2', t]),
  ['llama', 'F16'],
  ['llama', 'Q4_0'],
  ['llama', 'Q6_K'],
];

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(() => llama.dispose());

describe.each(CASES)('%s %s', (arch, type) => {
  it('llama.cpp gives the logprobs of the dense reference over the dequantized file', async () => {
    const file = tinyGguf(arch, type, type.endsWith('_K') ? TINY_256 : {});
    const ref = loadGgufForReference(file);
    const rows = denseForward(ref.checkpoint.config, ref.weights, TOKENS, range(0, TOKENS.length), causal);
    const model = await llama.loadModel({ modelPath: file });
    try {
      const context = await model.createContext({ contextSize: 64, threads: 2 });
      const out = await context.getSequence().controlledEvaluate(TOKENS.map((t) => [t as Token, { generateNext: { probabilities: true } }]));
      let worst = 0;
      let scale = 0;
      rows.forEach((row, i) => {
        const probabilities = out[i]?.next?.probabilities;
        expect(probabilities?.size).toBe(row.length);
        scale = Math.max(scale, Math.max(...row) - Math.min(...row));
        for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(Math.log(probabilities!.get(v as Token)!) - logSoftmaxAt(row, v)));
      });
      expect(worst).toBeLessThanOrEqual(TOLERANCE[type] * scale);
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });
});
