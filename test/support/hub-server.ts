/**
 * A stand-in for the Hugging Face hub on loopback, speaking its file-resolution protocol as the
 * real one does (and as Python's huggingface_hub expects):
 *
 *   HEAD/GET /{org}/{name}/resolve/{revision}/{file}
 *     small files: 200, ETag = git blob sha1, X-Repo-Commit, Content-Length
 *     LFS files (*.safetensors): 302 to a CDN on another host (127.0.0.2, same port numbering aside)
 *       with X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit (and an ETag that is not the
 *       sha256, so a client must prefer X-Linked-Etag)
 *     errors: 401 RepoNotFound (unknown repo, no token), 404 RepoNotFound (with a token),
 *       401/403 GatedRepo, 404 RevisionNotFound, 404 EntryNotFound (the X-Error-Code header)
 *   GET /cdn/{sha256}: the bytes, with Range requests answered 206
 *
 * Faults for tests: cut the connection after N bytes of a file, or serve it with one byte flipped.
 * Every request is recorded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeRepo {
  /** The folder whose files the repo serves (at one commit). */
  dir: string;
  commit: string;
  /** When set, requests need `Authorization: Bearer <token>` (a gated repo). */
  token?: string;
}

export interface RecordedRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface Faults {
  /** File name → bytes after which the connection is destroyed, for the next `times` GETs of it. */
  cut: Map<string, { after: number; times: number }>;
  /** File names served with their middle byte flipped (headers still announce the true hash). */
  corrupt: Set<string>;
}

export interface FakeHub {
  endpoint: string;
  requests: RecordedRequest[];
  faults: Faults;
  /** Where LFS files are redirected: another host, as the hub's CDN is, so no token may go there. */
  cdn: string;
  close(): Promise<void>;
}

export const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
export const gitBlobSha1 = (data: Buffer) => crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const isLfs = (file: string) => file.endsWith('.safetensors');

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  const faults: Faults = { cut: new Map(), corrupt: new Set() };
  const byHash = new Map<string, { file: string; data: Buffer }>();
  for (const repo of Object.values(repos)) {
    for (const file of fs.readdirSync(repo.dir)) {
      const data = fs.readFileSync(path.join(repo.dir, file));
      if (isLfs(file)) byHash.set(sha256(data), { file, data });
    }
  }

  let cdnOrigin = '';
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push({ method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization });
    const url = new URL(req.url!, `http://${req.headers.host}`);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return serveBytes(req, res, byHash.get(cdn[1]), faults);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return fail(res, 404, 'NotFound');
    const [, name, revision, file] = m.map(decodeURIComponent);
    const repo = repos[name];
    const auth = req.headers.authorization;
    if (!repo) return fail(res, auth ? 404 : 401, 'RepoNotFound');
    if (repo.token && auth !== `Bearer ${repo.token}`) return fail(res, auth ? 403 : 401, 'GatedRepo');
    if (revision !== 'main' && revision !== repo.commit) return fail(res, 404, 'RevisionNotFound');
    const local = path.join(repo.dir, file);
    if (!fs.existsSync(local)) return fail(res, 404, 'EntryNotFound');
    const data = fs.readFileSync(local);
    res.setHeader('X-Repo-Commit', repo.commit);
    if (isLfs(file)) {
      res.writeHead(302, {
        Location: `${cdnOrigin}/cdn/${sha256(data)}`,
        ETag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\n`))}"`,
        'X-Linked-Etag': `"${sha256(data)}"`,
        'X-Linked-Size': String(data.length),
      });
      return res.end();
    }
    res.writeHead(200, { ETag: `"${gitBlobSha1(data)}"`, 'Content-Length': String(data.length) });
    res.end(req.method === 'HEAD' ? undefined : data);
  };
  const hub = await listen(handle, '127.0.0.1');
  const cdn = await listen(handle, '127.0.0.2');
  cdnOrigin = cdn.origin;
  return {
    endpoint: hub.origin,
    cdn: cdn.origin,
    requests,
    faults,
    close: async () => {
      await hub.close();
      await cdn.close();
    },
  };
}

async function listen(handle: http.RequestListener, host: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://${host}:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function fail(res: http.ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'X-Error-Code': code, 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error: code }));
}

function serveBytes(req: http.IncomingMessage, res: http.ServerResponse, blob: { file: string; data: Buffer } | undefined, faults: Faults): void {
  if (!blob) return fail(res, 404, 'NotFound');
  let data = blob.data;
  if (faults.corrupt.has(blob.file)) {
    data = Buffer.from(data);
    data[data.length >> 1] ^= 0xff;
  }
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  const body = data.subarray(start);
  res.writeHead(range ? 206 : 200, {
    'Content-Length': String(body.length),
    ...(range ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
  });
  const cut = faults.cut.get(blob.file);
  if (!cut || cut.times <= 0) return void res.end(body);
  cut.times--;
  // Send part of the body, then drop the connection as a failing network would.
  res.write(body.subarray(0, cut.after), () => setTimeout(() => res.socket?.destroy(), 20));
}
