/**
 * Typed errors for loading a model folder. Every error names the file (and the tensor
 * when there is one) so the user can find what is wrong without a debugger.
 */

/** Stable codes: scripts and the wire protocol match on these, never on messages. */
export type ModelErrorCode =
  | 'MODEL_DIR_NOT_FOUND'
  | 'FILE_NOT_FOUND'
  | 'INVALID_JSON'
  | 'MISSING_CONFIG_FIELD'
  | 'INVALID_CONFIG_FIELD'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'MISSING_TENSOR'
  | 'WRONG_SHAPE'
  | 'UNKNOWN_DTYPE'
  | 'TRUNCATED_FILE'
  | 'BAD_HEADER'
  | 'BAD_OFFSETS'
  | 'TOKENIZER_ERROR'
  | 'NOT_A_FILE'
  | 'SYMLINK_LOOP'
  | 'FILE_UNREADABLE'
  | 'NON_FINITE_WEIGHT'

  // Hugging Face hub ids (src/hub/):
  | 'HUB_INVALID_ID'
  | 'HUB_NOT_FOUND'
  | 'HUB_UNAUTHORIZED'
  | 'HUB_NETWORK'
  | 'HUB_BAD_RESPONSE'
  | 'HUB_CHECKSUM_MISMATCH'
  | 'HUB_OFFLINE_MISS'

  /** `device: 'cuda'` asked for where the addon has no CUDA backend or no usable GPU is present. */
  | 'CUDA_UNAVAILABLE';

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    /** The file at fault, as given to or found by the loader. */
    readonly file?: string,
    /** The tensor at fault, when the problem is one tensor. */
    readonly tensor?: string,
  ) {
    super(message);
  }
}
