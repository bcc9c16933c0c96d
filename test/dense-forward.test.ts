import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/model/config.js';
import { Rng } from '../src/engine/rng.js';
import { denseForward } from './reference/dense-forward.js';

const causal = (q: number, k: number) => k <= q;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(tol);
}

describe('denseForward on a hand-computed model', () => {
  // hidden 2, one head of dim 2 (so RoPE is a plain rotation by `pos` radians: theta^0 = 1),
  // one layer, intermediate 1, vocab 3, with q/k/v biases.
  const eps = 1e-6;
  const config: ModelConfig = {
    architecture: 'qwen2',
    hiddenSize: 2,
    intermediateSize: 1,
    numLayers: 1,
    numHeads: 1,
    numKvHeads: 1,
    headDim: 2,
    vocabSize: 3,
    maxPositionEmbeddings: 16,
    ropeTheta: 10000,
    rmsNormEps: eps,
    tieWordEmbeddings: false,
    attentionBias: true,
    eosTokenIds: [],
  };
  // Linear weights are [out, in] row-major; the non-symmetric ones catch a transposed read.
  const weights: Record<string, number[]> = {
    'model.embed_tokens.weight': [1, 1, 1, -1, 2, 0],
    'model.layers.0.input_layernorm.weight': [2, 1],
    'model.layers.0.self_attn.q_proj.weight': [1, 1, 0, 1], // q = [a + b, b] + bias
    'model.layers.0.self_attn.q_proj.bias': [0.5, 0],
    'model.layers.0.self_attn.k_proj.weight': [0, 1, 1, 0], // k = [b, a]
    'model.layers.0.self_attn.k_proj.bias': [0, 0],
    'model.layers.0.self_attn.v_proj.weight': [1, 0, 0, 1], // v = [a, b] + bias
    'model.layers.0.self_attn.v_proj.bias': [0, 1],
    'model.layers.0.self_attn.o_proj.weight': [1, 2, 0, 1], // o = [a + 2b, b]
    'model.layers.0.post_attention_layernorm.weight': [1, 1],
    'model.layers.0.mlp.gate_proj.weight': [1, 0],
    'model.layers.0.mlp.up_proj.weight': [0, 1],
    'model.layers.0.mlp.down_proj.weight': [1, 2],
    'model.norm.weight': [1, 1],
    'lm_head.weight': [1, 0, 0, 1, 1, 1], // logits = [a, b, a + b]
  };
  const lookup = (name: string) => Float64Array.from(weights[name] ?? []);

  it('matches the logits worked out step by step', () => {
    const rms = (a: number, b: number) => Math.sqrt((a * a + b * b) / 2 + eps);
    const rot = ([x, y]: number[], angle: number) => [x * Math.cos(angle) - y * Math.sin(angle), y * Math.cos(angle) + x * Math.sin(angle)];
    const silu = (g: number) => g / (1 + Math.exp(-g));

    // Tokens [0, 1] at positions [3, 5]: embeddings [1, 1] and [1, -1], both with rms sqrt(1 + eps).
    const r = rms(1, 1);
    const n0 = [2 / r, 1 / r];
    const n1 = [2 / r, -1 / r];
    const q1 = rot([n1[0] + n1[1] + 0.5, n1[1]], 5);
    const k0 = rot([n0[1], n0[0]], 3);
    const k1 = rot([n1[1], n1[0]], 5);
    const v0 = [n0[0], n0[1] + 1];
    const v1 = [n1[0], n1[1] + 1];

    // Token 0 sees only itself; token 1 mixes both by softmax(q.k / sqrt(2)).
    const a0 = v0;
    const s0 = (q1[0] * k0[0] + q1[1] * k0[1]) / Math.SQRT2;
    const s1 = (q1[0] * k1[0] + q1[1] * k1[1]) / Math.SQRT2;
    const p0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
    const a1 = [p0 * v0[0] + (1 - p0) * v1[0], p0 * v0[1] + (1 - p0) * v1[1]];

    const logitsOf = (x: number[], a: number[]) => {
      const h = [x[0] + a[0] + 2 * a[1], x[1] + a[1]]; // residual + o_proj
      const m = [h[0] / rms(h[0], h[1]), h[1] / rms(h[0], h[1])];
      const act = silu(m[0]) * m[1]; // silu(gate) * up
      const y = [h[0] + act, h[1] + 2 * act]; // residual + down_proj
      const f = [y[0] / rms(y[0], y[1]), y[1] / rms(y[0], y[1])];
      return [f[0], f[1], f[0] + f[1]];
    };

    const logits = denseForward(config, lookup, [0, 1], [3, 5], causal);
    expectClose(logits[0], logitsOf([1, 1], a0), 1e-12);
    expectClose(logits[1], logitsOf([1, -1], a1), 1e-12);
  });

  it('rotates dimension j with j + d/2 (rotate_half), each pair at its own frequency', () => {
    // Head dim 4, theta 100: pair (0, 2) turns by pos * 1, pair (1, 3) by pos * 100^(-1/2) = pos / 10.
    // q puts 1/r in dims 0 and 1, k puts 1/r in dims 2 and 3. Rotating (1, 0) by a and (0, 1) by b
    // gives vectors whose dot is sin(a - b), so q.k = (sin(dp) + sin(dp / 10)) / r^2. (Adjacent-pair
    // RoPE would keep q in dims 0-1 and k in dims 2-3: q.k = 0.) MLP weights are zero: no MLP term.
    const eps = 1e-6;
    const rope4: ModelConfig = {
      ...config,
      architecture: 'llama',
      hiddenSize: 4,
      headDim: 4,
      vocabSize: 2,
      ropeTheta: 100,
      rmsNormEps: eps,
      attentionBias: false,
    };
    const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    const w: Record<string, number[]> = {
      'model.embed_tokens.weight': [1, 1, 1, 1, 1, 1, -1, -1],
      'model.layers.0.input_layernorm.weight': [1, 1, 1, 1],
      'model.layers.0.self_attn.q_proj.weight': [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      'model.layers.0.self_attn.k_proj.weight': [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
      'model.layers.0.self_attn.v_proj.weight': identity,
      'model.layers.0.self_attn.o_proj.weight': identity,
      'model.layers.0.post_attention_layernorm.weight': [1, 1, 1, 1],
      'model.layers.0.mlp.gate_proj.weight': [0, 0, 0, 0],
      'model.layers.0.mlp.up_proj.weight': [0, 0, 0, 0],
      'model.layers.0.mlp.down_proj.weight': [0, 0, 0, 0],
      'model.norm.weight': [1, 1, 1, 1],
      'lm_head.weight': [1, 0, 0, 0, 0, 0, 1, 0], // logits = [h0, h2]
    };
    const r2 = 1 + eps; // both embeddings have mean square 1
    const score = (Math.sin(5) + Math.sin(0.5)) / r2 / 2; // token 1 (pos 7) on token 0 (pos 2), over sqrt(4); on itself: 0
    const p0 = Math.exp(score) / (Math.exp(score) + 1);
    const x1 = [1, 1, -1, -1];
    const h = x1.map((x, i) => x + (p0 * [1, 1, 1, 1][i] + (1 - p0) * x1[i]) / Math.sqrt(r2));
    const rmsH = Math.sqrt(h.reduce((s, v) => s + v * v, 0) / 4 + eps);

    const logits = denseForward(rope4, (name) => Float64Array.from(w[name]), [0, 1], [2, 7], causal);
    expectClose(logits[1], [h[0] / rmsH, h[2] / rmsH], 1e-12);
  });

  it('uses the embedding matrix as lm_head when embeddings are tied', () => {
    // Untied with lm_head = the embedding matrix must give the same logits as tied.
    const headIsEmbedding = (name: string) => lookup(name === 'lm_head.weight' ? 'model.embed_tokens.weight' : name);
    const tied = denseForward({ ...config, tieWordEmbeddings: true }, headIsEmbedding, [0, 1], [3, 5], causal);
    const untied = denseForward(config, headIsEmbedding, [0, 1], [3, 5], causal);
    expect(tied).toEqual(untied);
  });

  it('names the tensor whose size is wrong', () => {
    const bad = (name: string) => (name === 'model.norm.weight' ? new Float64Array(3) : lookup(name));
    expect(() => denseForward(config, bad, [0], [0], causal)).toThrow(/model\.norm\.weight: expected 2 values, got 3/);
  });
});

describe('denseForward properties on a random model', () => {
  const config: ModelConfig = {
    architecture: 'qwen2',
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    vocabSize: 11,
    maxPositionEmbeddings: 256,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    attentionBias: true,
    eosTokenIds: [],
  };

  /** HF tensor names and sizes for `c`. */
  function tensorSizes(c: ModelConfig): Map<string, number> {
    const { hiddenSize: h, intermediateSize: m, headDim: d } = c;
    const sizes = new Map([
      ['model.embed_tokens.weight', c.vocabSize * h],
      ['model.norm.weight', h],
      ['lm_head.weight', c.vocabSize * h],
    ]);
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}`;
      for (const [name, size] of [
        ['input_layernorm.weight', h],
        ['post_attention_layernorm.weight', h],
        ['self_attn.q_proj.weight', c.numHeads * d * h],
        ['self_attn.q_proj.bias', c.numHeads * d],
        ['self_attn.k_proj.weight', c.numKvHeads * d * h],
        ['self_attn.k_proj.bias', c.numKvHeads * d],
        ['self_attn.v_proj.weight', c.numKvHeads * d * h],
        ['self_attn.v_proj.bias', c.numKvHeads * d],
        ['self_attn.o_proj.weight', h * c.numHeads * d],
        ['mlp.gate_proj.weight', m * h],
        ['mlp.up_proj.weight', m * h],
        ['mlp.down_proj.weight', h * m],
      ] as const) {
        sizes.set(`${p}.${name}`, size);
      }
    }
    return sizes;
  }

  /** Uniform weights in [-0.5, 0.5); norm weights around 1. */
  function randomWeights(c: ModelConfig, seed: number): Map<string, Float64Array> {
    const rng = Rng.fromSeed(seed);
    const out = new Map<string, Float64Array>();
    for (const [name, size] of tensorSizes(c)) {
      const base = name.includes('norm') ? 1 : 0;
      out.set(name, Float64Array.from({ length: size }, () => base + rng.nextFloat() - 0.5));
    }
    return out;
  }

  const weights = randomWeights(config, 7);
  const lookup = (name: string) => weights.get(name)!;
  const tokens = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
  const positions = tokens.map((_, i) => i);

  it('under a causal mask, token t does not depend on later tokens', () => {
    const base = denseForward(config, lookup, tokens, positions, causal);
    const changed = denseForward(config, lookup, [...tokens.slice(0, 6), 0, 10, 7, 8], positions, causal);
    for (let t = 0; t < 6; t++) expect(changed[t]).toEqual(base[t]);
    expect(changed[6]).not.toEqual(base[6]);
  });

  it('shifting every position by a constant leaves the logits unchanged (RoPE is relative)', () => {
    const base = denseForward(config, lookup, tokens, positions, causal);
    const shifted = denseForward(config, lookup, tokens, positions.map((p) => p + 37), causal);
    base.forEach((row, t) => expectClose(shifted[t], row, 1e-9));
  });

  it('positions matter: a non-uniform change moves the logits', () => {
    const base = denseForward(config, lookup, tokens, positions, causal);
    const moved = denseForward(config, lookup, tokens, positions.map((p) => (p < 5 ? p : p + 3)), causal);
    expect(Math.max(...moved[9].map((v, i) => Math.abs(v - base[9][i])))).toBeGreaterThan(1e-6);
  });

  it('a key the mask hides has no influence', () => {
    // Token 1 is visible to itself only, so nobody else can depend on which token it is.
    const mask = (q: number, k: number) => k <= q && (k !== 1 || q === 1);
    const base = denseForward(config, lookup, tokens, positions, mask);
    const changed = denseForward(config, lookup, tokens.map((t, i) => (i === 1 ? 8 : t)), positions, mask);
    for (let t = 0; t < tokens.length; t++) if (t !== 1) expect(changed[t]).toEqual(base[t]);
  });

  it('GQA: query head h reads kv head floor(h / group), like duplicating kv heads', () => {
    // 4 query heads over 2 kv heads equal 4 over 4 with kv heads laid out [kv0, kv0, kv1, kv1].
    const full = { ...config, numKvHeads: 4 };
    const d = config.headDim * config.hiddenSize;
    const duplicate = (w: Float64Array, rowBlock: number) =>
      Float64Array.from([0, 0, 1, 1].flatMap((kv) => [...w.slice(kv * rowBlock, (kv + 1) * rowBlock)]));
    const fullLookup = (name: string) => {
      const w = lookup(name);
      if (/self_attn\.[kv]_proj\.weight/.test(name)) return duplicate(w, d);
      if (/self_attn\.[kv]_proj\.bias/.test(name)) return duplicate(w, config.headDim);
      return w;
    };
    const grouped = denseForward(config, lookup, tokens, positions, causal);
    const ungrouped = denseForward(full, fullLookup, tokens, positions, causal);
    grouped.forEach((row, t) => expectClose(ungrouped[t], row, 1e-12));
  });

  it('reads no biases when attentionBias is false', () => {
    const llama = { ...config, architecture: 'llama' as const, attentionBias: false };
    const noBias = (name: string) => {
      if (name.endsWith('.bias')) throw new Error(`read ${name}`);
      return lookup(name);
    };
    const zeroBias = (name: string) => (name.endsWith('.bias') ? new Float64Array(lookup(name).length) : lookup(name));
    const llamaLogits = denseForward(llama, noBias, tokens, positions, causal);
    const zeroBiasLogits = denseForward(config, zeroBias, tokens, positions, causal);
    llamaLogits.forEach((row, t) => expectClose(zeroBiasLogits[t], row, 1e-12));
  });
});
