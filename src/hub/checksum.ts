/**
 * Checking a download against its ETag. The hub names an LFS file by the sha256 of its contents
 * and any other file by its git blob id: sha1 of `blob <size>\0` followed by the contents.
 */
import crypto from 'node:crypto';

/** A hash fed with the file's bytes in order; `matches()` once all have been given. */
export interface BlobChecksum {
  update(bytes: Uint8Array): void;
  matches(): boolean;
  /** Algorithm and hex digest of what was hashed, for the error message. */
  describe(): string;
}

export function blobChecksum(etag: string, size: number): BlobChecksum {
  const isSha256 = etag.length === 64;
  const hash = crypto.createHash(isSha256 ? 'sha256' : 'sha1');
  if (!isSha256) hash.update(`blob ${size}\0`);
  let digest: string | undefined;
  const final = () => (digest ??= hash.digest('hex'));
  return {
    update: (bytes) => hash.update(bytes),
    matches: () => final() === etag,
    describe: () => `${isSha256 ? 'sha256' : 'git blob sha1'} ${final()}`,
  };
}
