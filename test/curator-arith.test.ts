/**
 * The curator end to end on the arithmetic task's sequential chains: `multiverse curate` (the
 * compiled CLI) against a loopback server whose scripted "LLM" answers every stage correctly must
 * give, token for token, the records of the rule-based converter (src/tasks/arith/convert.ts via
 * export.ts); its --data-dir folder then trains through train/run.sh (CI smoke size), and the
 * checkpoint loads and generates. Needs Debian's python3-torch for the training part.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/facade/load-model.js';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { resolveTagIds } from '../src/multiverse/tags.js';
import { sequentialChain } from '../src/tasks/arith/chain.js';
import { exampleRecord } from '../src/tasks/arith/export.js';
import { generateProblem, problemAnswer, problemText, type Problem } from '../src/tasks/arith/problem.js';
import { arithLlm } from './support/arith-llm.js';
import { startChatServer, type ChatServer } from './support/chat-server.js';
import { spawnCli } from './support/cli-async.js';

const TRAINING_FIELDS = ['prompt_len', 'ids', 'loss_mask', 'positions', 'path_span', 'span_parent', 'span_block'] as const;

describe('multiverse curate on the arithmetic chains', () => {
  const problems: Problem[] = Array.from({ length: 60 }, (_, seed) => generateProblem(seed));
  const bySeed = new Map(problems.map((p) => [`arith-${p.seed}`, p]));
  let server: ChatServer;
  let dir: string;

  beforeAll(async () => {
    server = await startChatServer(arithLlm(new Map(problems.map((p) => [problemText(p), p]))));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curator-arith-'));
    const traces = problems.map((p) => JSON.stringify({ id: `arith-${p.seed}`, question: problemText(p), reasoning: sequentialChain(p), answer: problemAnswer(p) }));
    fs.writeFileSync(path.join(dir, 'traces.jsonl'), `${traces.join('\n')}\n`);
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the rule-based converter\'s records, token for token, and a report', async () => {
    const run = spawnCli(['curate', '--in', path.join(dir, 'traces.jsonl'), '--out', path.join(dir, 'mv.jsonl'), '--endpoint', server.endpoint, '--model', 'arith-scripted',
      '--concurrency', '4', '--data-dir', path.join(dir, 'data'), '--report', path.join(dir, 'report.json')]);
    const { code, stdout, stderr } = await run.done;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^converted {3}60 \(first time right\)$/m);

    const tokenizer = await loadTokenizer('models/multiverse-arith');
    const tagIds = resolveTagIds((t) => tokenizer.tokenId(t));
    if (tagIds === undefined) throw new Error('the tokenizer lacks the tags');
    const records = fs.readFileSync(path.join(dir, 'mv.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.id)).toEqual([...bySeed.keys()]);
    let nested = 0;
    for (const r of records) {
      const expected = exampleRecord(bySeed.get(r.id) as Problem, 'multiverse', tokenizer, tagIds);
      for (const field of TRAINING_FIELDS) expect(r[field], `${r.id} ${field}`).toEqual(expected[field]);
      expect([r.answer, r.parts, r.nested]).toEqual([expected.answer, expected.parts, expected.nested]);
      if (r.nested) nested++;
    }
    expect(nested).toBeGreaterThan(3);

    const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ traces: 60, converted: 60, repaired: 0, rejected: 0 });
    expect(report.depth['2']).toBe(nested);
    // Every chain of two or more parts becomes a block: depth 0 is the single-part problems.
    expect(report.depth['0']).toBe(problems.filter((p) => p.parts.length === 1).length);

    // The sequential twins are the arithmetic export's sequential records.
    const twins = fs.readFileSync(path.join(dir, 'data', 'sequential', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(twins).toHaveLength(54);
    for (const t of twins) expect(t.ids).toEqual(exampleRecord(bySeed.get(t.id) as Problem, 'sequential', tokenizer, tagIds).ids);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'data', 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({ eos_token_id: tokenizer.tokenId('<|im_end|>'), pad_token_id: tokenizer.tokenId('<|endoftext|>'), tag_ids: tagIds, sizes: { train: 54, validation: 6 } });
  });

  it('trains on that folder through train/run.sh, and the checkpoint loads and generates', async () => {
    const models = path.join(dir, 'models');
    const r = spawnSync(
      'bash',
      ['train/run.sh', '--hidden_size=32', '--intermediate_size=64', '--num_hidden_layers=2', '--batch_tokens=2048', '--max_steps=30', '--warmup_steps=5',
        '--eval_interval=0', '--final_eval_problems=4', '--max_new_tokens=48', '--log_interval=10'],
      { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DATA: path.join(dir, 'data'), MODELS: models, OUT: path.join(dir, 'train-out') } },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // From ln(512) = 6.2 at the start, 30 steps must bring the validation loss well down (as train/smoke.sh checks).
    const result = JSON.parse(/^multiverse-arith: (.*)$/m.exec(r.stdout)?.[1] ?? '{}');
    expect(result.val_loss).toBeLessThan(4.0);
    const model = await loadModel(path.join(models, 'multiverse-arith'));
    try {
      const events = await lastValueFrom(model.events(problemText(problems[5]), { maxTokens: 8, temperature: 0 }).pipe(toArray()));
      const done = events.at(-1);
      expect(done?.type).toBe('done');
      expect(done?.type === 'done' && done.usage.completionTokens).toBeGreaterThan(0);
    } finally {
      await model.dispose();
    }
  }, 300_000);
});
