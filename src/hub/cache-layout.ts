/**
 * The cache layout of Python's `huggingface_hub`, so a model downloaded by either is found by both:
 *
 *   <cache>/models--org--name/
 *     blobs/<etag>                     file contents, named by the hub's ETag (sha256 for LFS files)
 *     blobs/<etag>.incomplete          a download in progress (resumed with a Range request)
 *     refs/<revision>                  the commit hash a branch or tag pointed to when last resolved
 *     snapshots/<commit>/<file>        relative symlink to ../../blobs/<etag>
 *     .no_exist/<commit>/<file>        empty marker: the hub has no such file at that commit
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';

const COMMIT_HASH = /^[0-9a-f]{40}$/;

export function isCommitHash(revision: string): boolean {
  return COMMIT_HASH.test(revision);
}

/** One model repo's folder in the cache. */
export class RepoCache {
  readonly root: string;

  constructor(cacheDir: string, repo: string) {
    this.root = path.join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
  }

  blob(etag: string): string {
    return path.join(this.root, 'blobs', etag);
  }

  snapshot(commit: string): string {
    return path.join(this.root, 'snapshots', commit);
  }

  /** The commit `revision` names: itself when a commit hash, else what refs/ recorded; undefined when unknown. */
  async commitOf(revision: string): Promise<string | undefined> {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = (await fs.readFile(path.join(this.root, 'refs', revision), 'utf8')).trim();
      return isCommitHash(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const file = path.join(this.root, 'refs', revision);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, commit);
  }

  /** True when the snapshot has `file` and it resolves to a blob (a dangling link does not count). */
  async hasFile(commit: string, file: string): Promise<boolean> {
    return isFile(path.join(this.snapshot(commit), file));
  }

  /** True when an earlier download recorded that the hub has no `file` at `commit`. */
  async knownMissing(commit: string, file: string): Promise<boolean> {
    return isFile(path.join(this.root, '.no_exist', commit, file));
  }

  async markMissing(commit: string, file: string): Promise<void> {
    const marker = path.join(this.root, '.no_exist', commit, file);
    await fs.mkdir(path.dirname(marker), { recursive: true });
    await fs.writeFile(marker, '');
  }

  /** Points snapshots/<commit>/<file> at blobs/<etag> with a relative link, replacing any old link. */
  async link(commit: string, file: string, etag: string): Promise<void> {
    const pointer = path.join(this.snapshot(commit), file);
    await fs.mkdir(path.dirname(pointer), { recursive: true });
    await fs.rm(pointer, { force: true });
    await fs.symlink(path.relative(path.dirname(pointer), this.blob(etag)), pointer);
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}
