/**
 * Opens a GGUF model file as the engine's checkpoint: hyper-parameters, tokenizer and the
 * byte-range table of the weights, all from the header (no tensor data is read; the native engine
 * maps the file). Qwen2 and Llama files with F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K weights.
 */
import path from 'node:path';
import { dominantDtype, elementCount, type Checkpoint } from '../checkpoint.js';
import { createTokenizer, type Tokenizer } from '../tokenizer.js';
import { ggufConfig } from './gguf-config.js';
import { readGgufHeader } from './gguf-header.js';
import { ggufTensorRefs, hasGgufTensor } from './gguf-tensors.js';
import { ggufTokenizer } from './gguf-tokenizer.js';

export interface GgufModel {
  checkpoint: Checkpoint;
  tokenizer: Tokenizer;
}

/** Whether `modelPath` names a GGUF file rather than a checkpoint folder. */
export function isGgufPath(modelPath: string): boolean {
  return modelPath.toLowerCase().endsWith('.gguf');
}

/**
 * @throws ModelLoadError naming the file (and tensor): FILE_NOT_FOUND; BAD_HEADER, TRUNCATED_FILE,
 *   BAD_OFFSETS for a malformed header or data outside the file; UNSUPPORTED_ARCHITECTURE,
 *   MISSING_CONFIG_FIELD, INVALID_CONFIG_FIELD for the metadata; MISSING_TENSOR, UNKNOWN_DTYPE,
 *   WRONG_SHAPE for the tensor table; TOKENIZER_ERROR for a missing or unusable tokenizer.
 */
export function openGguf(modelPath: string): GgufModel {
  const file = path.resolve(modelPath);
  const header = readGgufHeader(file);
  const config = ggufConfig(header, hasGgufTensor(header, 'model.layers.0.self_attn.q_proj.bias'), !hasGgufTensor(header, 'lm_head.weight'));
  const tokens = ggufTokenizer(header);
  config.eosTokenIds = tokens.eosTokenIds;
  if (tokens.bosTokenId !== undefined) config.bosTokenId = tokens.bosTokenId;
  const tensors = ggufTensorRefs(header, config);
  const tokenizer = createTokenizer(tokens.tokenizerJson, tokens.tokenizerConfig, { json: file, config: file, template: file }, tokens.tokenizerConfig.chat_template as string | undefined);

  const checkpoint: Checkpoint = {
    dir: file,
    config,
    configFile: file,
    tensors,
    weightDtype: dominantDtype(tensors),
    eosTokenIds: tokens.eosTokenIds,
    tokenizerFile: file,
    parameterCount: tensors.reduce((n, t) => n + elementCount(t.shape), 0),
  };
  return { checkpoint, tokenizer };
}
