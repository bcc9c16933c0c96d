/**
 * The model `multiverse run`, `score` and `serve` use when no --model is given: the small Multiverse
 * model trained by train/ and shipped in models/multiverse-arith (a 1M-parameter Qwen2 that solves
 * sums of products, forking one path per part; see models/README.md for what it can and cannot do).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelLoadError } from '../model/errors.js';

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
 * Path of the embedded default model.
 * @throws ModelLoadError MODEL_DIR_NOT_FOUND when the package was installed without models/.
 */
export function defaultModelDir(): string {
  const dir = path.join(packageRoot(), 'models', 'multiverse-arith');
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new ModelLoadError('MODEL_DIR_NOT_FOUND', `${dir}: the embedded default model is missing; pass --model DIR`, dir);
  }
  return dir;
}
