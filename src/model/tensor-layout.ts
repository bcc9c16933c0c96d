/**
 * The tensors the engine needs, with Hugging Face names and shapes ([out, in] for linear
 * weights, as PyTorch stores them). Qwen2 and Llama share one layout; they differ only in the
 * q/k/v biases, which the config already records.
 */
import type { ModelConfig } from './config.js';

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/** Every tensor the engine loads, in a stable order: embeddings, layers 0..n-1, final norm, lm_head. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const { hiddenSize: hidden, intermediateSize: inter, vocabSize: vocab } = config;
  const qOut = config.numHeads * config.headDim;
  const kvOut = config.numKvHeads * config.headDim;

  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [vocab, hidden] }];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.input_layernorm.weight`, shape: [hidden] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [qOut, hidden] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kvOut, hidden] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kvOut, hidden] },
    );
    if (config.attentionBias) {
      out.push(
        { name: `${p}.self_attn.q_proj.bias`, shape: [qOut] },
        { name: `${p}.self_attn.k_proj.bias`, shape: [kvOut] },
        { name: `${p}.self_attn.v_proj.bias`, shape: [kvOut] },
      );
    }
    out.push(
      { name: `${p}.self_attn.o_proj.weight`, shape: [hidden, qOut] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [hidden] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [inter, hidden] },
      { name: `${p}.mlp.up_proj.weight`, shape: [inter, hidden] },
      { name: `${p}.mlp.down_proj.weight`, shape: [hidden, inter] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [hidden] });
  // Tied checkpoints reuse embed_tokens as the output projection (some also store a copy; it is ignored).
  if (!config.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [vocab, hidden] });
  return out;
}
