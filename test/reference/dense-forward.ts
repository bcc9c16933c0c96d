/**
 * The test oracle for the native engine: one dense forward pass of a Qwen2/Llama decoder over a
 * whole sequence with an explicit attention mask and explicit position ids, in float64, exactly as
 * Hugging Face transformers computes it. Slow and plain on purpose; only for tiny test models.
 */
import type { ModelConfig } from '../../src/model/config.js';

/**
 * Logits (one row of vocabSize per token) for `tokens` at `positions`, where `mask(q, k)` says
 * whether token k is visible to query token q (pass causal or the Multiverse mask).
 * `weights(name)` returns an HF tensor flattened row-major (Linear weights are [out, in]).
 * `roundInput`, when given, replaces each matrix product's input vector first, told the weight's name
 * (to model kernels that quantize activations for some weights, like llama.cpp's int8 dot products).
 * @throws Error when a tensor has the wrong size or a query sees no key.
 */
export function denseForward(
  config: ModelConfig,
  weights: (name: string) => Float64Array,
  tokens: number[],
  positions: number[],
  mask: (q: number, k: number) => boolean,
  roundInput: (x: Float64Array, weight: string) => Float64Array = (x) => x,
): Float64Array[] {
  const { hiddenSize: hidden, headDim, numHeads, numKvHeads, intermediateSize, vocabSize, rmsNormEps } = config;
  const tensor = (name: string, size: number): Float64Array => {
    const w = weights(name);
    if (w.length !== size) throw new Error(`${name}: expected ${size} values, got ${w.length}`);
    return w;
  };
  const linear = (name: string, x: Float64Array, out: number, bias: boolean): Float64Array =>
    matVec(tensor(`${name}.weight`, out * x.length), roundInput(x, `${name}.weight`), bias ? tensor(`${name}.bias`, out) : undefined);

  const embed = tensor('model.embed_tokens.weight', vocabSize * hidden);
  let xs: Float64Array[] = tokens.map((t) => embed.slice(t * hidden, (t + 1) * hidden)); // [token][hidden]

  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const normed = xs.map((x) => rmsNorm(x, tensor(`${p}.input_layernorm.weight`, hidden), rmsNormEps));
    const project = (name: string, heads: number) =>
      normed.map((x) => linear(`${p}.self_attn.${name}`, x, heads * headDim, config.attentionBias)); // [token][heads * headDim]
    const q = project('q_proj', numHeads).map((v, t) => rope(v, headDim, positions[t], config.ropeTheta));
    const k = project('k_proj', numKvHeads).map((v, t) => rope(v, headDim, positions[t], config.ropeTheta));
    const v = project('v_proj', numKvHeads);

    const attended = q.map((qt, t) => {
      const out = new Float64Array(numHeads * headDim);
      const keys = tokens.map((_, j) => j).filter((j) => mask(t, j));
      if (keys.length === 0) throw new Error(`token ${t} sees no key: the mask must let a token see itself`);
      for (let h = 0; h < numHeads; h++) {
        const kvh = Math.floor(h / (numHeads / numKvHeads)); // GQA: consecutive query heads share a kv head
        const scores = keys.map((j) => dot(qt, h * headDim, k[j], kvh * headDim, headDim) / Math.sqrt(headDim));
        const probs = softmax(scores);
        keys.forEach((j, n) => {
          for (let d = 0; d < headDim; d++) out[h * headDim + d] += probs[n] * v[j][kvh * headDim + d];
        });
      }
      return out;
    });
    xs = xs.map((x, t) => add(x, linear(`${p}.self_attn.o_proj`, attended[t], hidden, false)));

    xs = xs.map((x) => {
      const n = rmsNorm(x, tensor(`${p}.post_attention_layernorm.weight`, hidden), rmsNormEps);
      const gate = linear(`${p}.mlp.gate_proj`, n, intermediateSize, false);
      const up = linear(`${p}.mlp.up_proj`, n, intermediateSize, false);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]); // silu(gate) * up
      return add(x, linear(`${p}.mlp.down_proj`, act, hidden, false));
    });
  }

  const headName = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const head = tensor(headName, vocabSize * hidden);
  return xs.map((x) => matVec(head, roundInput(rmsNorm(x, tensor('model.norm.weight', hidden), rmsNormEps), headName)));
}

/** y = W x (+ b), W row-major [y.length, x.length]. */
function matVec(w: Float64Array, x: Float64Array, b?: Float64Array): Float64Array {
  const y = new Float64Array(w.length / x.length);
  for (let o = 0; o < y.length; o++) {
    let sum = b ? b[o] : 0;
    for (let i = 0; i < x.length; i++) sum += w[o * x.length + i] * x[i];
    y[o] = sum;
  }
  return y;
}

/** HF RMSNorm: x * rsqrt(mean(x^2) + eps) * w. */
function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  const scale = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * scale * w[i]);
}

/**
 * HF default RoPE ("rotate_half", NeoX layout) on every head of `x` ([heads * d]): the pair
 * (x[j], x[j + d/2]) turns by pos * theta^(-2j/d).
 */
function rope(x: Float64Array, d: number, pos: number, theta: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += d) {
    for (let j = 0; j < d / 2; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / d);
      const [a, b] = [x[base + j], x[base + j + d / 2]];
      out[base + j] = a * Math.cos(angle) - b * Math.sin(angle);
      out[base + j + d / 2] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

function dot(a: Float64Array, aOff: number, b: Float64Array, bOff: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[aOff + i] * b[bOff + i];
  return sum;
}

function softmax(xs: number[]): number[] {
  const max = Math.max(...xs);
  const exps = xs.map((x) => Math.exp(x - max));
  const sum = exps.reduce((s, e) => s + e, 0);
  return exps.map((e) => e / sum);
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}
