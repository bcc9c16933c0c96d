/**
 * The models shipped inside the package (models/, trained by train/): the Multiverse arithmetic
 * model that `loadModel()` and the CLI use when no model is named, and its autoregressive twin for
 * `multiverse eval`, both solving sums of products of a two-digit and a one-digit number; and the
 * Countdown pair (`multiverse eval --task countdown`), which reach a target from three numbers by a
 * written search. All are 1M-parameter Qwen2 checkpoints (see models/README.md for what they can
 * and cannot do).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelLoadError } from '../model/errors.js';

/** The shipped checkpoints by name: each task's Multiverse model and its autoregressive twin. */
export type ShippedModel = 'multiverse-arith' | 'ar-arith' | 'multiverse-countdown' | 'ar-countdown';

/** The package root: the nearest folder above this file with a package.json. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the multiverse-rx package root');
    dir = up;
  }
  return dir;
}

/**
 * Absolute path of a shipped model folder, inside the installed package (not the working directory).
 * @throws ModelLoadError MODEL_DIR_NOT_FOUND when the package was installed without models/.
 *
 * @example
 * ```ts
 * import { loadModel, shippedModelDir } from 'multiverse-rx';
 * const twin = await loadModel(shippedModelDir('ar-arith'));
 * ```
 */
export function shippedModelDir(name: ShippedModel = 'multiverse-arith'): string {
  const dir = path.join(packageRoot(), 'models', name);
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new ModelLoadError('MODEL_DIR_NOT_FOUND', `${dir}: the shipped model ${name} is missing from this install; pass a model folder`, dir);
  }
  return dir;
}
