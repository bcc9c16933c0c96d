/**
 * Downloads one file into the cache: appends to `blobs/<etag>.incomplete`, hashing as it writes,
 * and renames it to `blobs/<etag>` only when size and hash match the ETag. A connection cut
 * mid-file is resumed with a Range request (a few times in one call); a later call resumes from
 * what is on disk, as Python's huggingface_hub does with the same file.
 *
 * Why not @huggingface/hub's downloadFileToCacheDir: it restarts a partial file from zero, reports
 * no progress, never checks the hash, and files a snapshot under each file's last commit rather
 * than the revision's commit, so Python would not find it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ModelLoadError } from '../model/errors.js';
import { blobChecksum, type BlobChecksum } from './checksum.js';
import { requestHeaders, type FileMetadata } from './file-metadata.js';
import { badResponse, networkError, responseError, type HubRequest } from './hub-errors.js';

/** Requests per call before giving up on a connection that keeps dropping. */
const MAX_ATTEMPTS = 5;
const RETRY_DELAY_MS = 200;

/**
 * @param onBytes called with each count of bytes received (resumed bytes already on disk included).
 * @throws ModelLoadError HUB_CHECKSUM_MISMATCH (the partial file is deleted), HUB_NETWORK after
 *   MAX_ATTEMPTS cuts (the partial file is kept for the next call), or a responseError code.
 */
export async function downloadBlob(req: HubRequest, meta: FileMetadata, target: string, onBytes: (n: number) => void): Promise<void> {
  const partial = `${target}.incomplete`;
  await fs.mkdir(path.dirname(target), { recursive: true });
  const progress = await hashPartial(partial, meta);
  onBytes(progress.have);
  for (let attempt = 1; progress.have < meta.size; attempt++) {
    // fetch reports an unreachable host or a cut body as a TypeError; anything else is not ours to retry.
    const failure = await fetchRest(req, meta, partial, progress, onBytes).then(
      () => new Error(`the body ended after ${progress.have} of ${meta.size} bytes`),
      (err: unknown) => {
        if (err instanceof TypeError) return err;
        throw err;
      },
    );
    if (progress.have >= meta.size) break;
    if (attempt >= MAX_ATTEMPTS) throw networkError(failure, req);
    await delay(RETRY_DELAY_MS * attempt);
  }
  if (progress.have !== meta.size || !progress.checksum.matches()) {
    await fs.rm(partial, { force: true });
    throw new ModelLoadError(
      'HUB_CHECKSUM_MISMATCH',
      `${req.id.repo}: ${req.file} arrived corrupted (${progress.have} bytes, ${progress.checksum.describe()}; the hub announced ${meta.size} bytes, ${meta.etag}). The partial download was deleted: run again; if it persists, a proxy may be altering downloads`,
      req.file,
    );
  }
  await fs.rename(partial, target);
}

interface Progress {
  /** Bytes in the partial file, all of them fed to `checksum`. */
  have: number;
  checksum: BlobChecksum;
}

/** Hashes what an earlier attempt left; starts over when that is longer than the file can be. */
async function hashPartial(partial: string, meta: FileMetadata): Promise<Progress> {
  const checksum = blobChecksum(meta.etag, meta.size);
  let have = 0;
  try {
    const handle = await fs.open(partial, 'r');
    try {
      for await (const chunk of handle.createReadStream()) {
        checksum.update(chunk as Buffer);
        have += (chunk as Buffer).length;
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (have <= meta.size) return { have, checksum };
  await fs.rm(partial);
  return { have: 0, checksum: blobChecksum(meta.etag, meta.size) };
}

/**
 * One GET for the bytes after `progress.have`, appended to the partial file as they arrive.
 * `progress` is updated with every chunk, so after a cut it still describes the file on disk.
 */
async function fetchRest(req: HubRequest, meta: FileMetadata, partial: string, progress: Progress, onBytes: (n: number) => void): Promise<void> {
  const range: Record<string, string> = progress.have > 0 ? { range: `bytes=${progress.have}-` } : {};
  const res = await fetch(meta.url, { headers: { ...requestHeaders(req.settings, meta.url), ...range } });
  if (res.status === 200 && progress.have > 0) {
    // The server ignored the range: take the whole file again.
    await fs.rm(partial);
    onBytes(-progress.have);
    progress.have = 0;
    progress.checksum = blobChecksum(meta.etag, meta.size);
  } else if (res.status === 206) {
    const from = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!from || Number(from[1]) !== progress.have) throw badResponse(`a Content-Range starting at byte ${progress.have}`, req);
  } else if (!res.ok) {
    throw responseError(res, req);
  }
  if (!res.body) throw badResponse('a body', req);
  const handle = await fs.open(partial, 'a');
  try {
    for await (const chunk of res.body) {
      progress.checksum.update(chunk);
      await handle.appendFile(chunk);
      progress.have += chunk.length;
      onBytes(chunk.length);
    }
  } finally {
    await handle.close();
  }
}
