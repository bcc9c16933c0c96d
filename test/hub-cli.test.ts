/**
 * `multiverse pull` and `--model hf:…` against the loopback hub stand-in: pull prints the snapshot
 * folder, a later `run` offline generates what the original folder generates, and bad ids and
 * missing repos exit with their codes.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './support/cli.js';
import { startFakeHub, type FakeHub } from './support/hub-server.js';
import { tinyModel } from './support/models.js';

const COMMIT = 'd'.repeat(40);
let hub: FakeHub;
let home: string;
let original: string;

/** The CLI in a child process, asynchronously: the hub stand-in lives in this process and must keep answering. */
function multiverse(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { HF_TOKEN: _t, HF_HUB_CACHE: _c, HF_ENDPOINT: _e, HF_HUB_OFFLINE: _o, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, HF_HOME: home, HF_ENDPOINT: hub.endpoint, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-hf-home-'));
  original = tinyModel('qwen2', 'F32');
  hub = await startFakeHub({ 'acme/tiny': { dir: original, commit: COMMIT } });
});

afterAll(() => hub.close());

describe('multiverse pull and --model hf:', () => {
  it('pull prints the snapshot folder; run --model hf: then works offline and generates what the folder does; pull again only asks', async () => {
    const pulled = await multiverse({}, 'pull', 'acme/tiny');
    expect(pulled).toMatchObject({ code: 0, stderr: '' });
    expect(pulled.stdout.trim()).toBe(path.join(home, 'hub', 'models--acme--tiny', 'snapshots', COMMIT));

    const requests = hub.requests.length;
    const args = ['--raw', '--max-tokens', '6', '--temperature', '0', '--json', 'hello world'];
    const fromHub = await multiverse({ HF_HUB_OFFLINE: '1' }, 'run', '--model', 'hf:acme/tiny', ...args);
    const fromFolder = await multiverse({}, 'run', '--model', original, ...args);
    expect(fromHub.code).toBe(0);
    const tokens = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'token').map((e) => e.tokenId);
    expect(tokens(fromHub.stdout)).toHaveLength(6);
    expect(tokens(fromHub.stdout)).toEqual(tokens(fromFolder.stdout));
    expect(hub.requests.length).toBe(requests);

    // A second pull asks the hub what the branch is now, and fetches no file it already has.
    expect((await multiverse({}, 'pull', 'hf:acme/tiny@main')).code).toBe(0);
    const fresh = hub.requests.slice(requests);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((r) => r.method === 'HEAD')).toBe(true);
  });

  it('serve --model hf: names the model by its repo id', async () => {
    const { HF_TOKEN: _t, HF_HUB_CACHE: _c, HF_HUB_OFFLINE: _o, ...base } = process.env;
    const child = spawn(process.execPath, [CLI, 'serve', '--model', 'hf:acme/tiny', '--port', '0'], {
      env: { ...base, HF_HOME: home, HF_ENDPOINT: hub.endpoint },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          const m = /serving on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(['acme/tiny']);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('exit codes: 1 with the error code for a missing repo, 2 for a malformed id; --help documents the variables', async () => {
    const missing = await multiverse({}, 'pull', 'acme/missing');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('HUB_NOT_FOUND');
    expect((await multiverse({}, 'pull', '../acme')).code).toBe(2);
    const help = await multiverse({}, 'pull', '--help');
    expect(help.code).toBe(0);
    for (const name of ['HF_HUB_CACHE', 'HF_HOME', 'HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_OFFLINE']) expect(help.stdout).toContain(name);
  });
});
