/**
 * The CUDA backend where there is no GPU (this machine, CI): the default addon answers that it has
 * no CUDA, `device: 'cuda'` fails with CUDA_UNAVAILABLE and 'auto' runs on the CPU; and, where nvcc
 * is on PATH, the addon built with MULTIVERSE_CUDA=ON (into build-cuda/, apart from build/) compiles,
 * loads, reports the missing driver or device instead of crashing, and its CPU engine gives exactly
 * the logits of the default build.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { loadModel } from '../src/facade/load-model.js';
import { loadNative } from '../src/native/binding.js';
import { cli } from './support/cli.js';
import { engineFor, range } from './support/oracle.js';
import { tinyModel } from './support/models.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function onPath(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the default build (no CUDA)', () => {
  it("says why CUDA is unusable, rejects device 'cuda' with CUDA_UNAVAILABLE and runs 'auto' on the CPU", async () => {
    const status = loadNative().cudaStatus();
    expect(status.usable).toBe(false);
    expect(status.reason).toMatch(/^CUDA_UNAVAILABLE: this build of the addon has no CUDA backend/);
    const dir = tinyModel('qwen2', 'F32');
    await expect(loadModel(dir, { device: 'cuda', kvSlots: 64 })).rejects.toMatchObject({
      name: 'ModelLoadError',
      code: 'CUDA_UNAVAILABLE',
      message: expect.stringMatching(/^this build of the addon has no CUDA backend/),
    });
    const model = await loadModel(dir, { device: 'auto', kvSlots: 64 });
    expect(model.info.device).toBe('cpu');
    expect(model.info.backend).toMatch(/^cpu-/);
    await model.dispose();
  });

  it('multiverse run --device: cuda exits 1 with CUDA_UNAVAILABLE, an unknown device is a usage error, auto runs', () => {
    const model = tinyModel('qwen2', 'F32');
    const cuda = cli('run', '--model', model, '--device', 'cuda', '--tokens', '1,2', '--max-tokens', '2');
    expect(cuda.code).toBe(1);
    expect(cuda.stderr).toMatch(/multiverse: CUDA_UNAVAILABLE: this build of the addon has no CUDA backend/);
    const bogus = cli('run', '--model', model, '--device', 'tpu', '--tokens', '1,2');
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--device must be cpu, cuda or auto, got tpu/);
    const auto = cli('run', '--model', model, '--device', 'auto', '--tokens', '1,2', '--max-tokens', '2', '--temperature', '0', '--json');
    expect(auto.code).toBe(0);
    const done = JSON.parse(auto.stdout.trim().split('\n').at(-1) ?? '');
    expect(done).toMatchObject({ type: 'done', usage: { promptTokens: 2 } });
  });
});

// In a child process, so that loading the second addon cannot disturb this one.
const CHILD = `
const fs = require('node:fs');
const [addonPath, specPath, tokenList] = process.argv.slice(1);
const addon = require(addonPath);
const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
const tokens = tokenList.split(',').map(Number);
const out = { status: addon.cudaStatus() };
try { new addon.Engine({ ...spec, device: 'cuda' }); out.cuda = 'constructed'; } catch (e) { out.cuda = e.message; }
const engine = new addon.Engine({ ...spec, device: 'cpu' });
out.backend = engine.backend;
const seq = engine.createSequence();
engine.step([{ seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(tokens.map((_, i) => i)), logits: 'all' }])
  .then((logits) => { out.logits = Array.from(logits); process.stdout.write(JSON.stringify(out)); });
`;

describe.runIf(onPath('nvcc'))('the MULTIVERSE_CUDA=ON build', () => {
  it('compiles, loads without a GPU, fails device cuda with the driver or device error, and matches the CPU logits', async () => {
    await run('npx', ['cmake-js', 'compile', '--out', 'build-cuda', '--CDMULTIVERSE_CUDA=ON', '--CDCMAKE_CUDA_ARCHITECTURES=90'], {
      cwd: root,
      maxBuffer: 64 << 20,
    });
    const addon = path.join(root, 'build-cuda', 'Release', 'multiverse_native.node');
    const checkpoint = await openCheckpoint(tinyModel('llama', 'BF16'));
    const spec = { ...checkpoint.config, kvSlots: 64, threads: 2, kernels: 'auto', kvDtype: 'f32', tensors: checkpoint.tensors };
    const specPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mv-cuda-')), 'spec.json');
    fs.writeFileSync(specPath, JSON.stringify(spec));
    const tokens = [5, 17, 3, 99, 42, 7, 64, 250];
    const { stdout } = await run(process.execPath, ['-e', CHILD, addon, specPath, tokens.join(',')], { maxBuffer: 64 << 20 });
    const child = JSON.parse(stdout) as { status: { usable: boolean; reason: string }; cuda: string; backend: string; logits: number[] };

    // No GPU here: the statically linked runtime finds no driver (or no device), said in words.
    expect(child.status.usable).toBe(false);
    expect(child.status.reason).toMatch(/^CUDA_UNAVAILABLE: (cudaError\w+ \(|no CUDA device)/);
    expect(child.cuda).toBe(child.status.reason);

    const engine = engineFor(checkpoint, 64, 'auto');
    const seq = engine.createSequence();
    const logits = await engine.step([{ seq, tokens: Int32Array.from(tokens), positions: Int32Array.from(range(0, tokens.length)), logits: 'all' }]);
    const backend = engine.backend;
    engine.dispose();
    expect(child.backend).toBe(backend);
    expect(child.logits.length).toBe(tokens.length * checkpoint.config.vocabSize);
    expect(Float32Array.from(child.logits)).toEqual(logits);
  }, 900_000);
});
