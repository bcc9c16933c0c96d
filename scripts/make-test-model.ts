/**
 * Writes a random test checkpoint folder.
 *
 *   node dist/scripts/make-test-model.js OUT_DIR [--arch qwen2|llama] [--dtype F32|F16|BF16]
 *     [--seed N] [--preset tiny|bench150m] [--shards N]
 */
import { parseArgs } from 'node:util';
import type { Architecture, WeightDtype } from '../src/model/config.js';
import { BENCH_150M, TINY, writeRandomCheckpoint, type RandomCheckpointOptions } from '../src/testkit/random-checkpoint.js';

const PRESETS: Record<string, RandomCheckpointOptions> = { tiny: TINY, bench150m: BENCH_150M };
const USAGE =
  'usage: make-test-model OUT_DIR [--arch qwen2|llama] [--dtype F32|F16|BF16] [--seed N] [--preset tiny|bench150m] [--shards N]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) fail(`${flag} must be one of ${allowed.join(', ')}, got ${value}`);
  return value as T;
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`${flag} must be a non-negative integer, got ${value}`);
  return Number(value);
}

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        arch: { type: 'string' },
        dtype: { type: 'string' },
        seed: { type: 'string' },
        preset: { type: 'string' },
        shards: { type: 'string' },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
}

function main(): void {
  const { values, positionals } = parse();
  if (positionals.length !== 1) fail('expected exactly one OUT_DIR');

  const preset = PRESETS[oneOf(values.preset, Object.keys(PRESETS), '--preset') ?? 'tiny'];
  const options: RandomCheckpointOptions = {
    ...preset,
    architecture: oneOf<Architecture>(values.arch, ['qwen2', 'llama'], '--arch') ?? preset.architecture,
    dtype: oneOf<WeightDtype>(values.dtype, ['F32', 'F16', 'BF16'], '--dtype') ?? preset.dtype,
    seed: integer(values.seed, '--seed') ?? preset.seed,
    shards: integer(values.shards, '--shards') ?? 1,
  };

  let nextPercent = 0;
  options.onProgress = (written, total) => {
    const percent = Math.floor((100 * written) / total);
    // Report every 5% on a terminal line that rewrites itself; quiet for the tiny model.
    if (total > 64 << 20 && percent >= nextPercent) {
      nextPercent = percent + 5;
      process.stderr.write(`\rwriting weights: ${percent}% of ${(total / 2 ** 20).toFixed(0)} MiB`);
    }
  };
  const started = Date.now();
  let result;
  try {
    result = writeRandomCheckpoint(positionals[0], options);
  } catch (e) {
    // Bad sizes (e.g. more shards than tensors) are usage errors, not crashes.
    if (e instanceof RangeError) fail(e.message);
    throw e;
  }
  if (nextPercent > 0) process.stderr.write('\n');
  process.stdout.write(
    `${positionals[0]}: ${options.architecture} ${options.dtype}, ${(result.numParams / 1e6).toFixed(1)}M params, ` +
      `${result.weightFiles.length} weight file(s), tokenizer ${result.tokenizerSize} ids, ${Date.now() - started} ms\n`,
  );
}

main();
