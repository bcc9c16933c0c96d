/**
 * A model's checkpoint and tokenizer, from a Hugging Face checkpoint folder or a `.gguf` file:
 * everything but the weights' data, which the native engine maps.
 */
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { isGgufPath, openGguf } from './gguf/open-gguf.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';

/** @throws ModelLoadError naming the file (and tensor) at fault. */
export async function openModel(modelPath: string): Promise<{ checkpoint: Checkpoint; tokenizer: Tokenizer }> {
  if (isGgufPath(modelPath)) return openGguf(modelPath);
  const checkpoint = await openCheckpoint(modelPath);
  return { checkpoint, tokenizer: await loadTokenizer(checkpoint.dir) };
}
