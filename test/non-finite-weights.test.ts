/**
 * NaN and ±Inf weights are found at load and named (file, tensor, element); before, they loaded
 * silently and failed later with a RangeError naming no file. The oracle is the bit pattern planted
 * by hand: IEEE 754 binary32/binary16 and bfloat16 encodings, written at a chosen element.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightDtype } from '../src/model/config.js';
import { ModelLoadError } from '../src/model/errors.js';
import { loadModel } from '../src/facade/load-model.js';
import { readSafetensorsHeader } from '../src/model/safetensors.js';
import { loadNative, type NativeTensorRef } from '../src/native/binding.js';
import { TINY, writeRandomCheckpoint } from '../src/testkit/random-checkpoint.js';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mvrx-nonfinite-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Bit patterns by format, from the IEEE 754 / bfloat16 layouts (sign, all-ones exponent, mantissa). */
const PATTERNS = {
  F32: { bytes: 4, nan: 0x7fc00000, inf: 0x7f800000, negInf: 0xff800000, finite: [0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000000, 0x3f800000] },
  F16: { bytes: 2, nan: 0x7e00, inf: 0x7c00, negInf: 0xfc00, finite: [0x7bff, 0xfbff, 0x0001, 0x8000, 0x3c00] },
  BF16: { bytes: 2, nan: 0x7fc0, inf: 0x7f80, negInf: 0xff80, finite: [0x7f7f, 0xff7f, 0x0001, 0x8000, 0x3f80] },
} as const;

function writeBits(buf: Buffer, at: number, bits: number, bytes: number): void {
  if (bytes === 4) buf.writeUInt32LE(bits >>> 0, at);
  else buf.writeUInt16LE(bits, at);
}

/** A raw file of `count` elements of `dtype` after `lead` junk bytes (so the data can be unaligned). */
function rawTensor(name: string, dtype: WeightDtype, count: number, lead: number, plant: Map<number, number>): NativeTensorRef {
  const { bytes, finite } = PATTERNS[dtype];
  const buf = Buffer.alloc(lead + count * bytes);
  for (let i = 0; i < count; i++) writeBits(buf, lead + i * bytes, plant.get(i) ?? finite[i % finite.length], bytes);
  const file = path.join(root, `${name}.bin`);
  fs.writeFileSync(file, buf);
  return { name, file, offset: lead, byteLength: count * bytes, dtype, shape: [count] };
}

describe('native findNonFinite against planted bit patterns', () => {
  const native = loadNative();

  it.each(['F32', 'F16', 'BF16'] as const)('%s: the largest finite values, subnormals and -0 pass; NaN, +Inf, -Inf are found', async (dtype) => {
    const p = PATTERNS[dtype];
    const count = 10_000; // more than two scan blocks of 4096
    const clean = rawTensor(`${dtype}-clean`, dtype, count, 0, new Map());
    expect(await native.findNonFinite([clean])).toBeNull();

    for (const [bits, value] of [[p.nan, NaN], [p.inf, Infinity], [p.negInf, -Infinity]] as const) {
      for (const element of [0, 4095, 4096, count - 1]) {
        for (const lead of [0, 1]) {
          const bad = rawTensor(`${dtype}-bad`, dtype, count, lead, new Map([[element, bits]]));
          expect(await native.findNonFinite([clean, bad])).toEqual({ tensor: 1, element, value });
        }
      }
    }
  });

  it('reports the first hit in tensor order, then element order', async () => {
    const a = rawTensor('a', 'F32', 100, 0, new Map());
    const b = rawTensor('b', 'F16', 100, 0, new Map([[70, PATTERNS.F16.inf], [30, PATTERNS.F16.nan]]));
    const c = rawTensor('c', 'BF16', 100, 0, new Map([[0, PATTERNS.BF16.nan]]));
    expect(await native.findNonFinite([a, b, c])).toEqual({ tensor: 1, element: 30, value: NaN });
  });

  it('rejects a tensor that runs past the end of its file', async () => {
    const t = rawTensor('short', 'F32', 10, 0, new Map());
    await expect(native.findNonFinite([{ ...t, byteLength: 4000 }])).rejects.toThrow(/past the end/);
  });

  it('rejects a folder or a FIFO where the file should be, without waiting for a writer', async () => {
    const t = rawTensor('real', 'F32', 10, 0, new Map());
    const fifo = path.join(root, 'weights.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const file of [root, fifo]) {
      await expect(native.findNonFinite([{ ...t, file }])).rejects.toThrow(`${file} is not a regular file`);
    }
  });
});

describe('loadModel refuses non-finite weights', () => {
  /** A TINY checkpoint with `bits` written at `element` of `tensor`. */
  async function plantedCheckpoint(dtype: WeightDtype, tensor: string, element: number, bits: number): Promise<{ dir: string; file: string }> {
    const dir = path.join(root, `${dtype}-${tensor}-${element}`);
    writeRandomCheckpoint(dir, { ...TINY, dtype });
    const file = path.join(dir, 'model.safetensors');
    const entry = (await readSafetensorsHeader(file)).tensors.get(tensor)!;
    const buf = fs.readFileSync(file);
    writeBits(buf, entry.offset + element * PATTERNS[dtype].bytes, bits, PATTERNS[dtype].bytes);
    fs.writeFileSync(file, buf);
    return { dir, file };
  }

  it.each([
    ['F32', 'model.layers.1.mlp.down_proj.weight', 130, 'nan', 'NaN'],
    ['F16', 'model.layers.0.self_attn.q_proj.bias', 5, 'inf', 'Infinity'],
    ['BF16', 'lm_head.weight', 64 * 300 + 7, 'negInf', '-Infinity'],
  ] as const)('%s %s element %d: NON_FINITE_WEIGHT naming file, tensor and element', async (dtype, tensor, element, kind, shown) => {
    const { dir, file } = await plantedCheckpoint(dtype, tensor, element, PATTERNS[dtype][kind]);
    const err = await loadModel(dir, { threads: 1 }).then(
      (m) => m.dispose().then(() => expect.fail('loaded a model with a non-finite weight')),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelLoadError);
    const e = err as ModelLoadError;
    expect({ code: e.code, file: e.file, tensor: e.tensor }).toEqual({ code: 'NON_FINITE_WEIGHT', file, tensor });
    expect(e.message).toContain(`holds ${shown} at element ${element}`);
  });

  it('checkWeights: false skips the scan and loads', async () => {
    const { dir } = await plantedCheckpoint('F32', 'model.norm.weight', 3, PATTERNS.F32.nan);
    const model = await loadModel(dir, { threads: 1, checkWeights: false });
    expect(model.info.parameterCount).toBeGreaterThan(0);
    await model.dispose();
  });

  it('a clean checkpoint loads with the scan on', async () => {
    const dir = path.join(root, 'clean');
    writeRandomCheckpoint(dir, TINY);
    const model = await loadModel(dir, { threads: 1 });
    await model.dispose();
  });
});
