/**
 * What the hub says about one file at a revision, from a HEAD on its resolve URL (the request
 * Python's `hf_hub_download` makes): the commit the revision points to, the ETag that names the
 * blob (an LFS file's sha256, else the git blob's sha1), the size, and where to download it.
 */
import { badResponse, networkError, responseError, type HubRequest } from './hub-errors.js';
import type { HubSettings } from './settings.js';
import { isCommitHash } from './cache-layout.js';

export interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
  /** The CDN location for LFS files, else the resolve URL itself. */
  url: string;
}

const MAX_RENAME_HOPS = 5;

export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Headers for a request to `url`. The token goes to the hub only, never to a CDN on another
 * origin; `identity` keeps sizes and byte ranges those of the file itself, not of a compressed body.
 */
export function requestHeaders(settings: HubSettings, url: string): Record<string, string> {
  const sameOrigin = new URL(url).origin === new URL(settings.endpoint).origin;
  return { 'accept-encoding': 'identity', ...(settings.token && sameOrigin ? { authorization: `Bearer ${settings.token}` } : {}) };
}

/**
 * @returns undefined when the repo and revision exist but the file does not.
 * @throws ModelLoadError HUB_NOT_FOUND, HUB_UNAUTHORIZED, HUB_NETWORK (see responseError) or
 *   HUB_BAD_RESPONSE when the answer lacks the hub's headers.
 */
export async function fileMetadata(req: HubRequest, revision: string): Promise<FileMetadata | undefined> {
  let url = resolveUrl(req.settings.endpoint, req.id.repo, revision, req.file);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: requestHeaders(req.settings, url) });
    } catch (err) {
      throw networkError(err, req);
    }
    const isRedirect = res.status >= 300 && res.status < 400;
    const location = isRedirect ? res.headers.get('location') : null;
    const target = location ? new URL(location, url) : undefined;
    // As huggingface_hub does: a redirect on the same host (a renamed repo) is followed; one to another
    // host (the CDN) carries the file's headers itself, and the token must not follow it there.
    if (target && target.hostname === new URL(url).hostname && hop < MAX_RENAME_HOPS) {
      url = target.href;
      continue;
    }
    if (res.status === 404 && res.headers.get('x-error-code') === 'EntryNotFound') return undefined;
    if (!res.ok && !isRedirect) throw responseError(res, req);
    const commit = header(res, 'x-repo-commit', req);
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? header(res, 'etag', req));
    const size = Number(res.headers.get('x-linked-size') ?? header(res, 'content-length', req));
    // Both name paths in the cache: nothing but hex may get there.
    if (!isCommitHash(commit)) throw badResponse('a commit hash in X-Repo-Commit', req);
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) throw badResponse('a sha1 or sha256 ETag', req);
    if (!Number.isSafeInteger(size) || size < 0) throw badResponse('a file size', req);
    return { commit, etag, size, url: target?.href ?? url };
  }
}

function header(res: Response, name: string, req: HubRequest): string {
  const value = res.headers.get(name);
  if (!value) throw badResponse(`a ${name} header`, req);
  return value;
}

/** `W/"abc"` and `"abc"` are both the blob `abc`. */
function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}
