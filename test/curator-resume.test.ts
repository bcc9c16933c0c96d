/**
 * `multiverse curate --resume` after a kill: the compiled CLI is killed (SIGKILL) once some records
 * are written, a torn half line is left at the end of the file as a write cut short would leave it,
 * and the resumed run must end with the same files and report as an uninterrupted run, without
 * asking the endpoint again about the traces already written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { questionOf, startChatServer, type ChatServer } from './support/chat-server.js';
import { spawnCli } from './support/cli-async.js';
import { missingStep, scriptedAnswers, shopTrace } from './support/shop-script.js';

const COUNT = 12;

describe('multiverse curate --resume', () => {
  let server: ChatServer;
  let dir: string;
  const args = (out: string, ...more: string[]) => ['curate', '--in', path.join(dir, 'traces.jsonl'), '--out', out, '--endpoint', server.endpoint, '--model', 'm', '--concurrency', '2', ...more];

  beforeAll(async () => {
    // Trace 4's steps leave out a line twice: it is rejected, so the rejections file resumes too.
    const script = scriptedAnswers(Array.from({ length: COUNT }, (_, n) => (n === 4 ? { answers: { steps: { 0: missingStep(4), 1: missingStep(4) } } } : undefined)));
    // A slow endpoint, so the kill lands mid-run.
    server = await startChatServer(async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 25));
      return script(request);
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curator-resume-'));
    fs.writeFileSync(path.join(dir, 'traces.jsonl'), Array.from({ length: COUNT }, (_, n) => `${JSON.stringify(shopTrace(n))}\n`).join(''));
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends with the files of an uninterrupted run', async () => {
    const whole = await spawnCli(args(path.join(dir, 'whole.jsonl'))).done;
    expect(whole.code).toBe(0);

    const out = path.join(dir, 'killed.jsonl');
    const run = spawnCli(args(out));
    const lines = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').length - 1 : 0);
    while (lines() < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    run.child.kill('SIGKILL');
    const killed = await run.done;
    expect(killed.signal).toBe('SIGKILL');
    const written = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);
    expect(written.length).toBeLessThan(COUNT - 1);
    fs.appendFileSync(out, '{"id": "shop-11", "problem": "A sh');

    const asked = server.requests.length;
    const resumed = await spawnCli(args(out, '--resume')).done;
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toBe(whole.stdout);
    expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync(path.join(dir, 'whole.jsonl'), 'utf8'));
    expect(fs.readFileSync(path.join(dir, 'killed.rejected.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'whole.rejected.jsonl'), 'utf8'));
    const askedAgain = new Set(server.requests.slice(asked).map((r) => questionOf(r.body)));
    for (const id of written) expect(askedAgain.has(shopTrace(Number(id.slice(5))).question)).toBe(false);
  });

  it('sends the key named by --api-key-env and no key without it; an unset variable is a usage error', async () => {
    const before = server.requests.length;
    const keyed = await spawnCli(args(path.join(dir, 'keyed.jsonl'), '--api-key-env', 'CURATOR_TEST_KEY'), { ...process.env, CURATOR_TEST_KEY: 'sk-test-1', OPENAI_API_KEY: 'sk-other' }).done;
    expect(keyed.code).toBe(0);
    const asked = server.requests.length;
    expect(asked).toBeGreaterThan(before);
    expect(server.requests.slice(before).every((r) => r.authorization === 'Bearer sk-test-1')).toBe(true);
    const plain = await spawnCli(args(path.join(dir, 'plain.jsonl')), { ...process.env, OPENAI_API_KEY: 'sk-other' }).done;
    expect(plain.code).toBe(0);
    expect(server.requests.slice(asked).every((r) => r.authorization === undefined)).toBe(true);
    const unset = await spawnCli(args(path.join(dir, 'unset.jsonl'), '--api-key-env', 'CURATOR_TEST_UNSET')).done;
    expect(unset.code).toBe(2);
    expect(unset.stderr).toBe('multiverse: --api-key-env CURATOR_TEST_UNSET: that environment variable is not set\n');
  });

  it('refuses to touch an earlier run without --resume (exit 1), and a second resume has nothing to do', async () => {
    const out = path.join(dir, 'whole.jsonl');
    const refused = await spawnCli(args(out)).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`multiverse: OUTPUT_ERROR: ${out} exists: pass --resume to continue it, or remove it\n`);
    const asked = server.requests.length;
    const again = await spawnCli(args(out, '--resume')).done;
    expect(again.code).toBe(0);
    expect(server.requests.length).toBe(asked);
  });
});
