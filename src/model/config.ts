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
}
