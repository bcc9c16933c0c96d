/**
 * A hub model as a local checkpoint folder: the revision's snapshot folder in the cache, with
 * whatever it lacks downloaded first. Only the file-resolution protocol is used (a HEAD, then a
 * GET, per file on `{endpoint}/{repo}/resolve/{revision}/{file}`), as Python's hf_hub_download does.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../model/errors.js';
import { RepoCache } from './cache-layout.js';
import { downloadBlob } from './download-blob.js';
import { fileMetadata, type FileMetadata } from './file-metadata.js';
import { missingFileError, named, type HubRequest } from './hub-errors.js';
import { formatHubId, type HubId } from './hub-id.js';
import { OPTIONAL_FILES, REQUIRED_FILES, shardsOf, SINGLE_WEIGHTS, WEIGHTS_INDEX } from './model-files.js';
import { terminalProgressBar } from './progress-bar.js';
import { hubSettings, type HubOptions, type HubSettings } from './settings.js';

/**
 * 'cache-first' (loadModel) uses a complete cached snapshot of the revision without asking the hub;
 * 'check-hub' (`multiverse pull`) asks which commit the revision is now and fetches what changed.
 */
export type FetchPolicy = 'cache-first' | 'check-hub';

/**
 * @returns the snapshot folder, `<cache>/models--org--name/snapshots/<commit>`.
 * @throws ModelLoadError HUB_OFFLINE_MISS when offline and the cache lacks the model; the codes of
 *   fileMetadata and downloadBlob otherwise.
 */
export async function hubSnapshot(id: HubId, options: HubOptions = {}, policy: FetchPolicy = 'cache-first'): Promise<string> {
  const settings = hubSettings(options);
  const cache = new RepoCache(settings.cacheDir, id.repo);
  if (policy === 'cache-first' || settings.offline) {
    const commit = await cache.commitOf(id.revision);
    const missing = commit ? await missingFiles(cache, commit) : ['config.json'];
    if (missing.length === 0) return cache.snapshot(commit!);
    if (settings.offline) {
      const lacks = commit ? `its snapshot ${commit} lacks ${missing.join(', ')}` : `no snapshot of '${id.revision}' is in ${cache.root}`;
      throw new ModelLoadError(
        'HUB_OFFLINE_MISS',
        `${named(id)}: HF_HUB_OFFLINE is set and ${lacks}: download it once online with \`multiverse pull ${formatHubId(id)}\`, or unset HF_HUB_OFFLINE`,
        cache.root,
      );
    }
  }
  const bar = options.onProgress ? undefined : terminalProgressBar(`downloading ${formatHubId(id)}`);
  try {
    return await download(id, settings, cache, options.onProgress ?? bar?.update);
  } finally {
    bar?.stop();
  }
}

/** What a cached snapshot lacks for openCheckpoint (optional files never count). */
async function missingFiles(cache: RepoCache, commit: string): Promise<string[]> {
  const missing: string[] = [];
  for (const file of REQUIRED_FILES) if (!(await cache.hasFile(commit, file))) missing.push(file);
  if (await cache.hasFile(commit, SINGLE_WEIGHTS)) return missing;
  if (!(await cache.hasFile(commit, WEIGHTS_INDEX))) return [...missing, SINGLE_WEIGHTS];
  for (const shard of await shardsOf(path.join(cache.snapshot(commit), WEIGHTS_INDEX))) {
    if (!(await cache.hasFile(commit, shard))) missing.push(shard);
  }
  return missing;
}

interface PlannedFile {
  file: string;
  meta: FileMetadata;
}

/** Asks the hub about every file first (so the progress total is known), then fetches what is new. */
async function download(id: HubId, settings: HubSettings, cache: RepoCache, onProgress?: HubOptions['onProgress']): Promise<string> {
  const request = (file: string): HubRequest => ({ id, settings, file });
  const config = await fileMetadata(request('config.json'), id.revision);
  if (!config) throw missingFileError(request('config.json'));
  const commit = config.commit; // every other file is asked for at this commit, so all come from one
  const plan: PlannedFile[] = (await cache.hasFile(commit, 'config.json')) ? [] : [{ file: 'config.json', meta: config }];
  /** Plans `file` unless cached; false when the repo lacks it. */
  const want = async (file: string, required: boolean): Promise<boolean> => {
    if (await cache.hasFile(commit, file)) return true;
    if (!required && (await cache.knownMissing(commit, file))) return false;
    const meta = await fileMetadata(request(file), commit);
    if (meta) plan.push({ file, meta });
    else if (required) throw missingFileError(request(file));
    else await cache.markMissing(commit, file);
    return meta !== undefined;
  };
  for (const file of REQUIRED_FILES.slice(1)) await want(file, true);
  for (const file of OPTIONAL_FILES) await want(file, false);
  const indexCached = await cache.hasFile(commit, WEIGHTS_INDEX);
  if (indexCached || !(await want(SINGLE_WEIGHTS, false))) {
    if (!indexCached) {
      // Sharded: the index says which shards there are, so it comes before them.
      const index = await fileMetadata(request(WEIGHTS_INDEX), commit);
      if (!index) throw missingFileError(request(SINGLE_WEIGHTS));
      await fetchPlanned(cache, commit, [{ file: WEIGHTS_INDEX, meta: index }], request, () => {});
    }
    for (const shard of await shardsOf(path.join(cache.snapshot(commit), WEIGHTS_INDEX))) await want(shard, true);
  }
  await fetchPlanned(cache, commit, plan, request, onProgress ?? (() => {}));
  await cache.writeRef(id.revision, commit);
  return cache.snapshot(commit);
}

/** Downloads each planned file whose blob is not cached yet, then links it into the snapshot. */
async function fetchPlanned(
  cache: RepoCache,
  commit: string,
  plan: PlannedFile[],
  request: (file: string) => HubRequest,
  onProgress: NonNullable<HubOptions['onProgress']>,
): Promise<void> {
  const fresh = await Promise.all(plan.map(async ({ meta }) => !(await exists(cache.blob(meta.etag)))));
  const total = plan.reduce((sum, { meta }, i) => sum + (fresh[i] ? meta.size : 0), 0);
  let received = 0;
  for (const [i, { file, meta }] of plan.entries()) {
    if (fresh[i]) {
      await downloadBlob(request(file), meta, cache.blob(meta.etag), (n) => {
        received += n;
        onProgress(received, total, file);
      });
    }
    await cache.link(commit, file, meta.etag);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
