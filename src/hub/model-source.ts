/**
 * What `loadModel` was given, as a local checkpoint folder: a path as is, a hub id as its cached
 * snapshot (downloaded first when missing).
 */
import { parseHubId } from './hub-id.js';
import type { HubOptions } from './settings.js';

/** @throws ModelLoadError with a HUB_* code when a hub model cannot be had. */
export async function localModelDir(source: string, options?: HubOptions): Promise<string> {
  const id = parseHubId(source);
  if (!id) return source;
  // Imported on demand, so loading a folder never loads the hub client.
  const { hubSnapshot } = await import('./hub-snapshot.js');
  return hubSnapshot(id, options);
}
