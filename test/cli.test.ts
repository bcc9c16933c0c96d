/**
 * `multiverse run` as a user runs it: the compiled CLI (npm test builds dist/ first), its JSON
 * events, the text stream, and exit codes for usage errors and broken models.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, cliIn, cliWithInput } from './support/cli.js';
import { cliAll } from './support/cli-async.js';
import { tinyModel } from './support/models.js';

describe('multiverse run', () => {
  const model = tinyModel('qwen2', 'F32');

  it('prints one JSON event per line with top logprobs and a final done event', () => {
    const r = cli('run', '--model', model, '--tokens', '10,20,30', '--max-tokens', '5', '--temperature', '0', '--top-logprobs', '2', '--json');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const tokens = events.filter((e) => e.type === 'token');
    const done = events.at(-1);
    expect(done.type).toBe('done');
    expect(done.tokenIds).toEqual(tokens.map((t) => t.tokenId));
    expect(done.usage.promptTokens).toBe(3);
    expect(['stop', 'length']).toContain(done.finishReason);
    for (const t of tokens) {
      expect(t.branch).toBe('0');
      expect(Object.keys(t.topLogprobs)).toHaveLength(2);
      // Greedy: the chosen token is the most likely one.
      const best = Object.entries(t.topLogprobs as Record<string, number>).sort((a, b) => b[1] - a[1])[0];
      expect(Number(best[0])).toBe(t.tokenId);
    }
  });

  it('streams text for a chat prompt and reports stats on stderr', () => {
    const r = cli('run', '--model', model, 'Compute 12*3 + 4*5', '--max-tokens', '6', '--seed', '3');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/prompt \+ \d+ generated tokens/);
    expect(r.stderr).toMatch(/seed 3/);
  });

  it('runs the shipped Multiverse model by default, from any folder: it forks one path per part and gets the sum right', () => {
    const r = cliIn(os.tmpdir(), 'run', 'Compute 37*4+12*9+85*3', '--json');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const fork = events.find((e) => e.type === 'fork');
    expect(fork.paths.map((p: { label: string }) => p.label)).toEqual(['1', '2', '3']);
    const done = events.at(-1);
    expect(done.text).toContain(`Answer: ${37 * 4 + 12 * 9 + 85 * 3}`);
    expect(done.stats.parallelism).toBeGreaterThan(1);
  });

  it('--no-multiverse runs the same model as an ordinary one: no fork, the tags are written as tokens', () => {
    const r = cli('run', 'Compute 37*4+12*9+85*3', '--json', '--no-multiverse', '--max-tokens', '40');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'fork')).toBe(false);
    const done = events.at(-1);
    expect(done.stats.parallelism).toBe(1);
    expect(done.text).toContain('</Goal>'); // it closed a goal, and nothing forked on it
  });

  it('exits 2 on a usage error and 1 on a broken model, with the error code', async () => {
    const [usage, missing, badTokens] = await cliAll([['run', '--bogus'], ['run', '--model', '/nonexistent/model', 'hi'], ['run', '--model', model, '--tokens', '1,x']]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown option --bogus/);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/MODEL_DIR_NOT_FOUND/);
    expect(badTokens.code).toBe(2);
  });
});

describe('multiverse run: flags and input', () => {
  it('exits 2 for a bad flag value before loading any model', async () => {
    // A model folder that does not exist: loading first would exit 1 with MODEL_DIR_NOT_FOUND.
    const cases = [
      ['--max-tokens', '0', /--max-tokens must be an integer >= 1, got 0/],
      ['--temperature', '-1', /--temperature must be a finite number >= 0, got -1/],
      ['--top-p', '2', /--top-p must be in \(0, 1\], got 2/],
      ['--top-logprobs', '-3', /--top-logprobs must be an integer >= 0/],
    ] as const;
    const results = await cliAll(cases.map(([flag, value]) => ['run', '--model', '/no/such/model', flag, value, 'Compute 17*3']));
    for (const [i, [, , message]] of cases.entries()) {
      expect(results[i].code).toBe(2);
      expect(results[i].stderr).toMatch(message);
      expect(results[i].stderr).not.toMatch(/MODEL_DIR_NOT_FOUND|loading model/);
    }
  });

  it('rejects a prompt given as several arguments instead of joining them', () => {
    const r = cli('run', 'Compute', '17*3');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give the text as one argument \(quote it\), got 2/);
  });

  it('reads the prompt from stdin when none is given', () => {
    const r = cliWithInput('Compute 17*3\n', 'run', '--temperature', '0');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Answer: ${17 * 3}`);
  });

  it('--top-logprobs in text mode prints each token with its alternatives as text', () => {
    const r = cli('run', 'Compute 17*3', '--temperature', '0', '--top-logprobs', '2');
    expect(r.code).toBe(0);
    const rows = r.stderr.split('\n').filter((l) => /^0 +"/.test(l));
    // One row per generated token: the token, its logprob, then two quoted alternatives with theirs.
    expect(rows.length).toBeGreaterThan(20);
    for (const row of rows) expect(row).toMatch(/^0 +"[^"]*" +-?\d+\.\d{3} +"[^"]*" -?\d+\.\d{3} +"[^"]*" -?\d+\.\d{3}$/);
    expect(r.stderr).toMatch(/top logprobs \(branch, token, logprob, alternatives\)/);
  });
});

describe('multiverse inspect', () => {
  it('lists as eos ids the ids generation stops at: the tokenizer’s eos token and the config’s', () => {
    const r = cli('inspect', 'models/multiverse-arith', '--json');
    const report = JSON.parse(r.stdout);
    const eos = report.specialTokens.eos_token.id;
    expect(report.eosTokenIds).toContain(eos);
    const config = JSON.parse(fs.readFileSync('models/multiverse-arith/generation_config.json', 'utf8'));
    for (const id of [config.eos_token_id].flat()) expect(report.eosTokenIds).toContain(id);
  });
});

describe('multiverse eval', () => {
  it('compares the shipped models (found inside the package, from any folder) on test problems and writes the report and the budget chart', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-eval-'));
    try {
      const out = path.join(dir, 'eval.md');
      const r = cliIn(dir, 'eval', '--problems', '4', '--budgets', '64,512', '--budget-problems', '3', '--out', out, '--json');
      expect(r.code).toBe(0);
      const results = JSON.parse(r.stdout);
      for (const name of ['MV', 'AR']) {
        expect(results[name].evaluation.problems).toBe(4);
        expect(results[name].curve.map((p: { budget: number }) => p.budget)).toEqual([64, 512]);
      }
      // Only the Multiverse model forks, and a fork puts more than one token on each critical-path step.
      expect(results.AR.evaluation.parallelism).toBe(1);
      expect(results.MV.evaluation.parallelism).toBeGreaterThan(1);
      const report = fs.readFileSync(out, 'utf8');
      expect(report).toMatch(/\| Multiverse \| [\d.]+% \|/);
      expect(report).toContain('![accuracy against the critical-path budget](eval-budget.svg)');
      expect(fs.readFileSync(path.join(dir, 'eval-budget.svg'), 'utf8').match(/<polyline /g)).toHaveLength(2);
      // 4 problems x 2 models are too few runs to fit three costs: the report says so instead.
      expect(results.cost).toBe('8 runs, fewer than the 20 a fit needs');
      expect(report).toContain('Where the time goes: no fit (8 runs, fewer than the 20 a fit needs).');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a budget that is not a positive integer', () => {
    const r = cli('eval', '--budgets', '64,0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/positive integers/);
  });
});
