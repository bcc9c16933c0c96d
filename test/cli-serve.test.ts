/**
 * `multiverse serve` and `multiverse inspect` as a user runs them (the compiled CLI): serve prints
 * its URLs, answers /health, the viewer and a streamed chat completion, honours --api-key, and
 * exits 0 on SIGTERM and 130 on SIGINT; usage errors exit 2 and a taken port 1. inspect --json is
 * checked against the model folder's own files (config.json for the parameter count,
 * tokenizer.json for the tag ids). Every command's --help exits 0.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MULTIVERSE_TAGS } from '../src/multiverse/tags.js';
import { cli } from './support/cli.js';
import { cliAll } from './support/cli-async.js';
import { isRunning, serve as serveProcess, type Served } from './support/serve.js';
import { tinyModel } from './support/models.js';

const model = tinyModel('qwen2', 'F32');

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (isRunning(child)) child.kill('SIGKILL');
});

async function serve(...args: string[]): Promise<Served> {
  const s = await serveProcess(model, args);
  running.push(s.child);
  return s;
}

/** The SSE `data:` payloads of a streamed response, in order. */
async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length));
}

describe('multiverse serve', () => {
  it('prints its URLs, serves health, the viewer and a streamed chat completion, and exits 0 on SIGTERM', async () => {
    const s = await serve();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${s.url}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', model: path.basename(model), protocol: 1, device: 'cpu' });
    const page = await fetch(`${s.url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="dist/viewer/src/app.js">');
    expect((await fetch(`${s.url}/dist/viewer/src/app.js`)).status).toBe(200);

    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: path.basename(model), messages: [{ role: 'user', content: 'hello' }], max_tokens: 6, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = await sseData(res);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-1).choices[0].finish_reason).toMatch(/^(stop|length)$/);

    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toMatch(/loaded in \d+ ms/);
    expect(s.stderr()).toMatch(/SIGTERM: refusing new requests, letting running ones finish \(up to 10 s/);
  });

  it('on SIGTERM ends a request that outlasts --drain-timeout with SHUTTING_DOWN and closes 1001, then exits 0', async () => {
    const s = await serve('--drain-timeout', '0.2');
    const ws = new WebSocket(`${s.url.replace('http:', 'ws:')}/v1/ws`);
    const events: { type: string; code?: string }[] = [];
    const closed = new Promise<number>((resolve) => ws.on('close', resolve));
    await new Promise((resolve) => ws.on('open', resolve));
    ws.on('message', (data) => events.push(JSON.parse(data.toString())));
    ws.send(JSON.stringify({ type: 'generate', id: 1, input: [1, 2, 3], options: { maxTokens: 2000, ignoreEos: true } }));
    while (!events.some((e) => e.type === 'token')) await new Promise((r) => setTimeout(r, 5));
    s.child.kill('SIGTERM');
    expect(await closed).toBe(1001);
    expect(events.filter((e) => e.type === 'done' || e.type === 'error')).toEqual([expect.objectContaining({ type: 'error', code: 'SHUTTING_DOWN' })]);
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toMatch(/up to 0\.2 s/);
  });

  it('with --api-key refuses every request without it, lets a browser in by ?api_key= and a cookie, and exits 130 on SIGINT', async () => {
    const s = await serve('--api-key', 'sekret');
    expect((await fetch(`${s.url}/health`)).status).toBe(401);
    expect((await fetch(`${s.url}/health`, { headers: { authorization: 'Bearer sekret' } })).status).toBe(200);
    expect((await fetch(`${s.url}/`)).status).toBe(401);
    expect((await fetch(`${s.url}/style.css`)).status).toBe(401);
    const page = await fetch(`${s.url}/?api_key=sekret`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!.split(';')[0];
    expect((await fetch(`${s.url}/style.css`, { headers: { cookie } })).status).toBe(200);
    s.child.kill('SIGINT');
    expect(await s.exit).toBe(130);
  });

  it('reads the key from MULTIVERSE_API_KEY or --api-key-file, and lets pages of --allow-origin origins call it', async () => {
    const fromEnv = await serveProcess(model, [], { ...process.env, MULTIVERSE_API_KEY: 'from-env' });
    running.push(fromEnv.child);
    expect((await fetch(`${fromEnv.url}/health`)).status).toBe(401);
    expect((await fetch(`${fromEnv.url}/health`, { headers: { authorization: 'Bearer from-env' } })).status).toBe(200);

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mv-key-')), 'key');
    fs.writeFileSync(file, 'from-file\n');
    const app = 'https://app.example';
    const fromFile = await serve('--api-key-file', file, '--allow-origin', app, '--allow-origin', 'http://localhost:3000');
    expect((await fetch(`${fromFile.url}/health`, { headers: { authorization: 'Bearer from-file' } })).status).toBe(200);
    const preflight = await fetch(`${fromFile.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect((await fetch(`${fromFile.url}/health`, { headers: { origin: 'https://evil.example', authorization: 'Bearer from-file' } })).status).toBe(403);
  });

  it('warns on stderr when it binds beyond loopback without a key; refuses two key flags and a bad origin', async () => {
    const env = { ...process.env, MULTIVERSE_API_KEY: '' };
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails after the warning, so nothing is exposed.
    const beyondLoopback = ['serve', '--model', model, '--host', '192.0.2.1', '--port', '0'];
    const [[open], [keyed], [both, emptyKeyFile, badOrigin]] = await Promise.all([
      cliAll([beyondLoopback], env),
      cliAll([beyondLoopback], { ...env, MULTIVERSE_API_KEY: 'k' }),
      cliAll([
        ['serve', '--model', model, '--api-key', 'a', '--api-key-file', '/dev/null'],
        ['serve', '--model', model, '--api-key-file', '/dev/null'],
        ['serve', '--model', model, '--allow-origin', 'https://app.example/'],
      ]),
    ]);
    expect(open.code).toBe(1);
    expect(open.stderr).toMatch(/warning: binding 192\.0\.2\.1 without an api key/);
    expect(keyed.code).toBe(1);
    expect(keyed.stderr).not.toMatch(/warning/);

    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--api-key or --api-key-file, not both/);
    expect(emptyKeyFile.stderr).toMatch(/holds no key/);
    expect(badOrigin.code).toBe(2);
    expect(badOrigin.stderr).toMatch(/allowOrigins must be origins like/);
  });

  it('exits 2 on a usage error and 1 when the port is taken', async () => {
    const [notANumber, outOfRange, extra] = await cliAll([
      ['serve', '--model', model, '--port', 'http'],
      ['serve', '--model', model, '--port', '70000'],
      ['serve', '--model', model, 'extra'],
    ]);
    expect(notANumber.code).toBe(2);
    expect(outOfRange.code).toBe(2);
    expect(outOfRange.stderr).toMatch(/port must be an integer 0\.\.65535/);
    expect(extra.code).toBe(2);

    const s = await serve();
    const taken = cli('serve', '--model', model, '--port', new URL(s.url).port);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });
});

describe('multiverse inspect', () => {
  it('--json reports the parameter count from config.json and the tag ids of tokenizer.json', () => {
    const r = cli('inspect', model, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const c = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
    // Qwen2 by hand: per layer q/k/v (with biases), o, the three MLP matrices, two norms; then embeddings, final norm, lm_head.
    const h = c.hidden_size;
    const kv = (c.num_key_value_heads * h) / c.num_attention_heads;
    const layer = h * h + h + 2 * (kv * h + kv) + h * h + 3 * h * c.intermediate_size + 2 * h;
    const embeddings = c.vocab_size * h * (c.tie_word_embeddings ? 1 : 2);
    expect(report.parameterCount).toBe(c.num_hidden_layers * layer + embeddings + h);
    expect(report.dtypes).toEqual({ F32: { tensors: report.tensors.length, parameters: report.parameterCount } });
    expect(report.tensors[0]).toEqual({ name: 'model.embed_tokens.weight', shape: [c.vocab_size, h], dtype: 'F32', file: 'model.safetensors' });

    const added = JSON.parse(fs.readFileSync(path.join(model, 'tokenizer.json'), 'utf8')).added_tokens as { id: number; content: string }[];
    const idOf = (text: string) => added.find((t) => t.content === text)?.id;
    expect(Object.keys(report.multiverseTags)).toEqual([...MULTIVERSE_TAGS]);
    for (const tag of MULTIVERSE_TAGS) expect(report.multiverseTags[tag]).toBe(idOf(tag));
    expect(report.specialTokens.eos_token).toEqual({ text: '<|im_end|>', id: idOf('<|im_end|>') });
    expect(report.chatTemplate).toContain('add_generation_prompt');
  });

  it('prints the tensors table and the tags as text, and exits 2 without a model, 1 for a missing one', async () => {
    const [r, noModel, missing] = await cliAll([['inspect', model], ['inspect'], ['inspect', path.join(model, 'nope')]]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^parameters\s+139,840 \(0\.14M\)$/m);
    expect(r.stdout).toMatch(/^\s+model\.embed_tokens\.weight\s+\[512, 64\]\s+F32$/m);
    expect(r.stdout).toMatch(/^\s+<Parallel>\s+\d+\s+<\/Parallel>\s+\d+$/m);
    expect(noModel.code).toBe(2);
    expect(missing.code).toBe(1);
  });
});

describe('--help', () => {
  it.each(['run', 'score', 'eval', 'serve', 'inspect'])('multiverse %s --help exits 0 with the usage and options', (command) => {
    const r = cli(command, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: multiverse ${command} `));
    expect(r.stdout).toMatch(/\n {2}--help\s+show this help/);
  });

  it('multiverse --help lists every command and the exit codes; no command is a usage error', async () => {
    const [r, none, bogus] = await cliAll([['--help'], [], ['bogus']]);
    expect(r.code).toBe(0);
    for (const command of ['run', 'score', 'eval', 'serve', 'inspect']) expect(r.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 failure.*2 usage error, 130/);
    expect(none.code).toBe(2);
    expect(bogus.code).toBe(2);
  });
});
