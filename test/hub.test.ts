/**
 * Models from the Hugging Face hub, against a loopback stand-in for the hub (test/support/hub-server):
 * a download loads with the same logits as the original folder, lands in huggingface_hub's cache
 * layout, resumes after a cut, rejects corrupted bytes, works offline from the cache, reports
 * 401/404/network failures with their codes, and a cache laid out by hand as Python writes it is
 * used without a single request.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ModelLoadError, type HubOptions, type Model } from '../src/index.js';
import { parseHubId } from '../src/hub/hub-id.js';
import { hubSettings } from '../src/hub/settings.js';
import { hubSnapshot } from '../src/hub/hub-snapshot.js';
import { blobChecksum } from '../src/hub/checksum.js';
import { gitBlobSha1, sha256, startFakeHub, type FakeHub } from './support/hub-server.js';
import { tinyModel } from './support/models.js';

const SHARDED_COMMIT = 'a'.repeat(40);
const SINGLE_COMMIT = '0123456789abcdef0123456789abcdef01234567';
const GATED_COMMIT = 'b'.repeat(40);
const TOKENS = [3, 17, 42, 99, 150, 7, 260, 31];

const savedEnv = { ...process.env };
let hub: FakeHub;
let shardedDir: string;
let singleDir: string;

/** A loopback port nothing listens on (any more). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function freshCache(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mv-hub-cache-'));
}

function hubOptions(cacheDir: string, extra: HubOptions = {}): HubOptions {
  return { endpoint: hub.endpoint, cacheDir, ...extra };
}

async function expectLoadError(promise: Promise<unknown>, code: string, ...inMessage: string[]): Promise<ModelLoadError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  expect((err as ModelLoadError).code).toBe(code);
  for (const part of inMessage) expect((err as ModelLoadError).message).toContain(part);
  return err as ModelLoadError;
}

/** Per-token logprobs and top-5 alternatives: the logits, up to the softmax's constant. */
async function logprobs(model: Model): Promise<unknown> {
  const { tokens } = await model.score(TOKENS, { topLogprobs: 5 });
  return tokens.map((t) => [t.logprob, t.topLogprobs]);
}

async function expectSameLogits(source: string, original: string, options: HubOptions): Promise<void> {
  const fromHub = await loadModel(source, { hub: options });
  const fromFolder = await loadModel(original);
  try {
    expect(await logprobs(fromHub)).toEqual(await logprobs(fromFolder));
  } finally {
    await fromHub.dispose();
    await fromFolder.dispose();
  }
}

beforeAll(async () => {
  // No token or cache of this machine may leak in: HF_HOME points at an empty folder.
  process.env.HF_HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-hf-home-'));
  for (const name of ['HF_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'HUGGINGFACE_HUB_CACHE']) delete process.env[name];
  shardedDir = tinyModel('qwen2', 'F32', { shards: 3 });
  singleDir = tinyModel('llama', 'F32');
  hub = await startFakeHub({
    'acme/sharded': { dir: shardedDir, commit: SHARDED_COMMIT },
    'acme/tiny': { dir: singleDir, commit: SINGLE_COMMIT },
    'acme/gated': { dir: singleDir, commit: GATED_COMMIT, token: 'hf_secret' },
  });
});

afterAll(async () => {
  await hub.close();
  process.env = savedEnv;
});

afterEach(() => {
  hub.faults.cut.clear();
  hub.faults.corrupt.clear();
});

describe('hub ids', () => {
  it('reads hf:org/name[@revision], and a bare org/name only when no such local path exists', () => {
    expect(parseHubId('hf:acme/tiny@v1.0')).toEqual({ repo: 'acme/tiny', revision: 'v1.0', bare: false });
    expect(parseHubId('hf:gpt2')).toEqual({ repo: 'gpt2', revision: 'main', bare: false });
    expect(parseHubId('Qwen/Qwen2.5-0.5B-Instruct')).toEqual({ repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main', bare: true });
    expect(parseHubId('test/support')).toBeUndefined(); // a folder of this repo
    expect(parseHubId('./acme/tiny')).toBeUndefined();
    expect(parseHubId('/abs/acme/tiny')).toBeUndefined();
    expect(parseHubId('models')).toBeUndefined();
    expect(parseHubId('hf:acme/tiny@refs/pr/1')?.revision).toBe('refs/pr/1');
    // The revision names a file under refs/: nothing may climb out of it.
    for (const bad of ['hf:../etc/passwd', 'hf:acme/tiny@../../x', 'hf:acme/tiny@pr/../../x', 'hf:acme/tiny@', 'hf:acme/tiny@/abs']) {
      expect(() => parseHubId(bad), bad).toThrow(expect.objectContaining({ code: 'HUB_INVALID_ID' }));
    }
  });

  it('checks a file against a git blob id as `git hash-object` computes it', () => {
    const file = path.join(singleDir, 'config.json');
    const expected = execFileSync('git', ['hash-object', file], { encoding: 'utf8' }).trim();
    const data = fs.readFileSync(file);
    const good = blobChecksum(expected, data.length);
    good.update(data);
    expect(good.matches()).toBe(true);
    const bad = blobChecksum(expected, data.length);
    bad.update(Buffer.concat([data, Buffer.from(' ')]));
    expect(bad.matches()).toBe(false);
  });
});

describe('hub settings from the environment', () => {
  afterEach(() => {
    for (const name of ['HF_TOKEN', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_HUB_OFFLINE']) delete process.env[name];
  });

  it('honours HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, the saved login and HF_HUB_OFFLINE', () => {
    const home = process.env.HF_HOME!;
    expect(hubSettings()).toEqual({ cacheDir: path.join(home, 'hub'), endpoint: 'https://huggingface.co', token: undefined, offline: false });
    fs.writeFileSync(path.join(home, 'token'), 'hf_saved\n');
    expect(hubSettings().token).toBe('hf_saved');
    fs.rmSync(path.join(home, 'token'));
    Object.assign(process.env, { HF_HUB_CACHE: '/x/cache', HF_ENDPOINT: 'http://mirror.local/', HF_TOKEN: 'hf_env', HF_HUB_OFFLINE: 'yes' });
    expect(hubSettings()).toEqual({ cacheDir: '/x/cache', endpoint: 'http://mirror.local', token: 'hf_env', offline: true });
    expect(hubSettings({ offline: false, token: 'hf_opt' })).toMatchObject({ offline: false, token: 'hf_opt' });
  });
});

describe('loadModel from the hub', () => {
  it('downloads a sharded checkpoint into the huggingface_hub layout and loads it with the logits of the original folder', async () => {
    const cache = freshCache();
    const before = hub.requests.length;
    await expectSameLogits('hf:acme/sharded', shardedDir, hubOptions(cache));

    const repo = path.join(cache, 'models--acme--sharded');
    expect(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8')).toBe(SHARDED_COMMIT);
    const snapshot = path.join(repo, 'snapshots', SHARDED_COMMIT);
    for (const file of fs.readdirSync(shardedDir)) {
      const data = fs.readFileSync(path.join(shardedDir, file));
      const etag = file.endsWith('.safetensors') ? sha256(data) : gitBlobSha1(data);
      expect(fs.readlinkSync(path.join(snapshot, file))).toBe(`../../blobs/${etag}`);
      expect(fs.readFileSync(path.join(repo, 'blobs', etag)).equals(data)).toBe(true);
    }
    // Python's marker for a file the repo does not have, so no later run asks again.
    expect(fs.existsSync(path.join(repo, '.no_exist', SHARDED_COMMIT, 'chat_template.jinja'))).toBe(true);
    // Each file's bytes were fetched once; the three shards came from the CDN location.
    const gets = hub.requests.slice(before).filter((r) => r.method === 'GET').map((r) => r.url);
    expect(new Set(gets).size).toBe(gets.length);
    expect(gets.filter((u) => u.startsWith('/cdn/'))).toHaveLength(3);
  });

  it('uses a complete cached snapshot without a request, and a commit hash as the revision', async () => {
    const cache = freshCache();
    const dir = await hubSnapshot(parseHubId('hf:acme/tiny')!, hubOptions(cache));
    const before = hub.requests.length;
    expect(await hubSnapshot(parseHubId('hf:acme/tiny')!, hubOptions(cache))).toBe(dir);
    expect(await hubSnapshot(parseHubId(`hf:acme/tiny@${SINGLE_COMMIT}`)!, hubOptions(cache))).toBe(dir);
    expect(hub.requests.length).toBe(before);
  });

  it('resumes a file whose connection is cut mid-transfer with a Range request', async () => {
    const cache = freshCache();
    hub.faults.cut.set('model.safetensors', { after: 3000, times: 1 });
    await expectSameLogits('hf:acme/tiny', singleDir, hubOptions(cache));
    const cdn = hub.requests.filter((r) => r.url.startsWith('/cdn/')).slice(-2);
    expect(cdn.map((r) => r.range)).toEqual([undefined, 'bytes=3000-']);
  });

  it('keeps the partial file when the connection keeps dropping, and the next run resumes from it', async () => {
    const cache = freshCache();
    hub.faults.cut.set('model.safetensors', { after: 3000, times: 99 });
    await expectLoadError(hubSnapshot(parseHubId('hf:acme/tiny')!, hubOptions(cache)), 'HUB_NETWORK', "'acme/tiny'", 'resumes where it stopped');
    const blobs = path.join(cache, 'models--acme--tiny', 'blobs');
    const partial = fs.readdirSync(blobs).find((f) => f.endsWith('.incomplete'))!;
    const kept = fs.statSync(path.join(blobs, partial)).size;
    // Five attempts, each cut after 3000 bytes. A cut can also drop bytes that arrived but were not
    // yet read (fetch discards a body's buffer when its socket closes), so under load less is kept.
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(5 * 3000);
    expect(fs.existsSync(path.join(cache, 'models--acme--tiny', 'refs', 'main'))).toBe(false);

    hub.faults.cut.clear();
    const before = hub.requests.length;
    await expectSameLogits('hf:acme/tiny', singleDir, hubOptions(cache));
    expect(hub.requests.slice(before).find((r) => r.url.startsWith('/cdn/'))?.range).toBe(`bytes=${kept}-`);
    expect(fs.readdirSync(blobs).some((f) => f.endsWith('.incomplete'))).toBe(false);
  });

  it('rejects a file whose bytes do not match the sha256 ETag, keeps nothing of it, and succeeds once the bytes are right', async () => {
    const cache = freshCache();
    hub.faults.corrupt.add('model.safetensors');
    const sha = sha256(fs.readFileSync(path.join(singleDir, 'model.safetensors')));
    await expectLoadError(loadModel('hf:acme/tiny', { hub: hubOptions(cache) }), 'HUB_CHECKSUM_MISMATCH', 'model.safetensors', sha);
    const repo = path.join(cache, 'models--acme--tiny');
    expect(fs.readdirSync(path.join(repo, 'blobs')).filter((f) => f.startsWith(sha))).toEqual([]);
    expect(fs.existsSync(path.join(repo, 'snapshots', SINGLE_COMMIT, 'model.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(repo, 'refs', 'main'))).toBe(false);

    hub.faults.corrupt.clear();
    await expectSameLogits('hf:acme/tiny', singleDir, hubOptions(cache));
  });

  it('offline: loads from the cache without a request, and names the repo and the fix on a miss', async () => {
    const cache = freshCache();
    const before = hub.requests.length;
    await expectLoadError(loadModel('hf:acme/tiny', { hub: hubOptions(cache, { offline: true }) }), 'HUB_OFFLINE_MISS', "'acme/tiny'", 'multiverse pull acme/tiny');
    expect(hub.requests.length).toBe(before);

    await hubSnapshot(parseHubId('hf:acme/tiny')!, hubOptions(cache));
    const afterDownload = hub.requests.length;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      await expectSameLogits('hf:acme/tiny', singleDir, hubOptions(cache));
      await expectLoadError(loadModel('hf:acme/tiny@v2', { hub: hubOptions(cache) }), 'HUB_OFFLINE_MISS', 'acme/tiny@v2');
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    expect(hub.requests.length).toBe(afterDownload);
  });

  it('a gated repo: 401 without a token says to set HF_TOKEN; with the token it downloads', async () => {
    const cache = freshCache();
    await expectLoadError(loadModel('hf:acme/gated', { hub: hubOptions(cache) }), 'HUB_UNAUTHORIZED', 'gated', 'HF_TOKEN');
    await expectLoadError(loadModel('hf:acme/gated', { hub: hubOptions(cache, { token: 'hf_wrong' }) }), 'HUB_UNAUTHORIZED', 'gated');
    process.env.HF_TOKEN = 'hf_secret';
    try {
      await expectSameLogits('hf:acme/gated', singleDir, hubOptions(cache));
    } finally {
      delete process.env.HF_TOKEN;
    }
    const resolves = hub.requests.filter((r) => r.url.startsWith('/acme/gated/'));
    expect(resolves.at(-1)?.authorization).toBe('Bearer hf_secret');
    // The CDN is another host: the token never goes there.
    const cdn = hub.requests.filter((r) => r.url.startsWith('/cdn/'));
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.authorization === undefined)).toBe(true);
  });

  it('an unknown repo or revision is HUB_NOT_FOUND; an unreachable hub is HUB_NETWORK', async () => {
    const cache = freshCache();
    await expectLoadError(loadModel('acme/nothing', { hub: hubOptions(cache) }), 'HUB_NOT_FOUND', "'acme/nothing' (no local folder of that name", 'HF_TOKEN');
    await expectLoadError(loadModel('hf:acme/tiny@v9', { hub: hubOptions(cache) }), 'HUB_NOT_FOUND', "'v9'");
    const closed = await closedPort();
    await expectLoadError(loadModel('hf:acme/tiny', { hub: { cacheDir: cache, endpoint: `http://127.0.0.1:${closed}` } }), 'HUB_NETWORK', 'ECONNREFUSED');
  });

  it('reuses a cache that Python laid out, without a single request', async () => {
    // As huggingface_hub writes it: blobs named by ETag, relative snapshot links, refs/main.
    const cache = freshCache();
    const commit = 'c'.repeat(40);
    const repo = path.join(cache, 'models--acme--python-made');
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'snapshots', commit), { recursive: true });
    fs.mkdirSync(path.join(repo, 'refs'));
    fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
    for (const file of fs.readdirSync(singleDir)) {
      const data = fs.readFileSync(path.join(singleDir, file));
      const etag = file.endsWith('.safetensors') ? sha256(data) : gitBlobSha1(data);
      fs.writeFileSync(path.join(repo, 'blobs', etag), data);
      fs.symlinkSync(`../../blobs/${etag}`, path.join(repo, 'snapshots', commit, file));
    }
    const before = hub.requests.length;
    await expectSameLogits('acme/python-made', singleDir, hubOptions(cache));
    expect(hub.requests.length).toBe(before);
  });
});
