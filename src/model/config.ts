/**
 * The parts of a Hugging Face `config.json` the engine needs, normalised across
 * architectures. Parsing and validation live in `parse-config.ts`.
 */

export type Architecture = 'qwen2' | 'llama';
export type WeightDtype = 'F32' | 'F16' | 'BF16';

export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** hidden_size / num_attention_heads unless config gives head_dim. */
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases: always for Qwen2, `attention_bias` for Llama. */
  attentionBias: boolean;
  /** Token ids from config.json (generation_config.json overrides eos when present). */
  bosTokenId?: number;
  eosTokenIds: number[];
  /**
   * Which dimensions of a head RoPE rotates together. 'neox' (Hugging Face's rotate_half: i with
   * i + headDim/2) unless set; 'interleaved' (2i with 2i + 1) for llama-architecture GGUF files,
   * whose converter reorders the q/k rows for llama.cpp's rope. Attention scores are the same
   * either way; only the weights' row order differs.
   */
  ropeStyle?: RopeStyle;
}

export type RopeStyle = 'neox' | 'interleaved';
