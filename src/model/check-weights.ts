/**
 * The load-time scan for NaN and ±Inf weights. A non-finite weight would otherwise load silently
 * and surface much later as NaN logits (a RangeError in sampling) naming no file. The scan itself
 * is native (native/model/finite_check.cpp) and runs off the event loop.
 */
import type { NativeAddon, NativeTensorRef } from '../native/binding.js';
import { ModelLoadError } from './errors.js';

/** The dtypes the native scan reads; block-quantized tensors (GGUF) are left to their own checks. */
const SCANNED: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16']);

/**
 * Resolves when every F32/F16/BF16 weight is finite.
 * @throws ModelLoadError NON_FINITE_WEIGHT naming the file, the tensor and the element's index.
 */
export async function checkWeightsFinite(native: Pick<NativeAddon, 'findNonFinite'>, tensors: readonly NativeTensorRef[]): Promise<void> {
  const scanned = tensors.filter((t) => SCANNED.has(t.dtype));
  const hit = await native.findNonFinite(scanned);
  if (hit === null) return;
  const { name, file, shape } = scanned[hit.tensor];
  throw new ModelLoadError(
    'NON_FINITE_WEIGHT',
    `${file}: tensor "${name}" holds ${hit.value} at element ${hit.element} (${elementIndex(hit.element, shape)}); ` +
      'the checkpoint is corrupt or overflowed when it was converted',
    file,
    name,
  );
}

/** A flat index as a subscript, e.g. 130 in [4, 64] is [2, 2]. */
function elementIndex(flat: number, shape: readonly number[]): string {
  const subscript: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    subscript.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return `[${subscript.join(', ')}]`;
}
