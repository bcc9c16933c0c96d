/**
 * The training side and the engine agree: the PyTorch model of train/ (Debian's python3-torch),
 * run densely over a Multiverse transcript with the explicit mask and positions, gives the same
 * logits as the engine reaching that transcript by fork and merge (structured prefill) — on the
 * trained model we ship and on a random one.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { RequestContext } from '../src/engine/request-context.js';
import { Rng } from '../src/engine/rng.js';
import { multiverseLayout } from '../src/multiverse/attention.js';
import { prefillStructured } from '../src/multiverse/structured-prefill.js';
import { resolveTagIds } from '../src/multiverse/tags.js';
import { END_OF_TURN, promptText, solutionText } from '../src/tasks/arith/export.js';
import { testProblems } from '../src/tasks/arith/evaluate.js';
import { promptText as countdownPrompt, solutionText as countdownSolution } from '../src/tasks/countdown/export.js';
import { testProblems as countdownProblems } from '../src/tasks/countdown/evaluate.js';
import { tinyModel } from './support/models.js';

const PYTHON = '/usr/bin/python3';

// Whether torch imports, asked once for the file (an import takes ~1.7 s here): null when it does.
let torchMissing: Error | null | undefined;
function requireTorch(): void {
  if (torchMissing === undefined) {
    try {
      execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'pipe' });
      torchMissing = null;
    } catch {
      torchMissing = new Error(`${PYTHON} cannot import torch: apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread (see train/README.md)`);
    }
  }
  if (torchMissing) throw torchMissing;
}

/** PyTorch's logits rows for `ids` under the Multiverse layout, one Float32Array per token. */
function torchLogits(dir: string, ids: number[], positions: number[], visible: (q: number, k: number) => boolean, vocab: number): Float32Array[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-parity-'));
  const mask = ids.map((_, q) => ids.map((_, k) => (visible(q, k) ? 1 : 0)));
  fs.writeFileSync(path.join(tmp, 'in.json'), JSON.stringify({ ids, positions, mask }));
  execFileSync(PYTHON, ['train/parity.py', dir, path.join(tmp, 'in.json'), path.join(tmp, 'out.bin')], { stdio: 'pipe' });
  const raw = fs.readFileSync(path.join(tmp, 'out.bin'));
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return ids.map((_, i) => all.subarray(i * vocab, (i + 1) * vocab));
}

/** The flat transcript of per-branch scripts as the scheduler writes it (openers `<Path>{label}:`, `<Conclusion>`). */
function nestedTranscript(model: Model): number[] {
  const text =
    ' plan<Parallel><Goal><Outline>1: left</Outline><Outline>2: right</Outline></Goal>' +
    '<Path>1: L<Parallel><Goal><Outline>1.1: a</Outline><Outline>1.2: b</Outline></Goal>' +
    '<Path>1.1: x</Path><Path>1.2: y</Path><Conclusion> ab</Conclusion></Parallel> l</Path>' +
    '<Path>2: R r r</Path><Conclusion> both</Conclusion></Parallel> end';
  return [1, 2, 3, ...model.tokenizer.encode(text, { addSpecialTokens: false })];
}

async function compare(model: Model, ids: number[]): Promise<number> {
  const tags = resolveTagIds((t) => model.tokenizer.tokenId(t))!;
  const layout = multiverseLayout(ids, tags);
  const vocab = model.checkpoint.config.vocabSize;
  const reference = torchLogits(model.info.dir, ids, layout.positions, layout.visible, vocab);
  const request = new RequestContext(model.loop);
  try {
    const pre = await prefillStructured(request, ids, tags, Rng.fromSeed(1));
    expect(pre.positions).toEqual(layout.positions);
    let worst = 0;
    let scale = 0;
    // logits[i] is the engine's row of token i, computed in its fork/merge context.
    pre.logits.forEach((row, i) => {
      const ref = reference[i];
      for (let v = 0; v < vocab; v++) {
        scale = Math.max(scale, Math.abs(ref[v]));
        worst = Math.max(worst, Math.abs(ref[v] - row[v]));
      }
    });
    expect(scale).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1e-4 * scale);
    return worst / scale;
  } finally {
    request.releaseAll();
  }
}

// Both models run with an f32 KV cache: the comparison is at f32 rounding, and the engine's default
// f16 cache rounds K and V to 11 bits (its own bound is tested in kernel-sets-engine.test.ts).
describe('PyTorch training model against the engine', () => {
  it('agree on a nested solution of a held-out problem (the shipped Multiverse model)', async () => {
    requireTorch();
    const model = await loadModel('models/multiverse-arith', { kvSlots: 2048, contextLength: 1024, kvDtype: 'f32' });
    const problem = testProblems(50).find((p) => p.parts.length >= 3 && p.parts.some((part) => part.kind === 'group'))!;
    const text = promptText(problem, model.tokenizer) + solutionText(problem, 'multiverse') + END_OF_TURN;
    await compare(model, model.tokenizer.encode(text, { addSpecialTokens: false }));
    await model.dispose();
  });

  it('agree on a nested solution of a held-out Countdown problem (the shipped Countdown Multiverse model)', async () => {
    requireTorch();
    const model = await loadModel('models/multiverse-countdown', { kvSlots: 2048, contextLength: 1024, kvDtype: 'f32' });
    // Every subtree holds a nested block (3 or 4 paths), and the four-path one when the pair divides.
    const problem = countdownProblems(50).find((p) => p.numbers.some((a) => p.numbers.some((b) => a > b && a % b === 0)))!;
    const text = countdownPrompt(problem, model.tokenizer) + countdownSolution(problem, 'multiverse') + END_OF_TURN;
    await compare(model, model.tokenizer.encode(text, { addSpecialTokens: false }));
    await model.dispose();
  });

  it('agree on a nested Multiverse transcript (random tiny model)', async () => {
    requireTorch();
    const model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 1024, contextLength: 512, kvDtype: 'f32' });
    await compare(model, nestedTranscript(model));
    await model.dispose();
  });
});
