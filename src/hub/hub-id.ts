/**
 * Model sources that name a Hugging Face hub repo: `hf:org/name[@revision]` always, and a bare
 * `org/name[@revision]` when no local path of that name exists (as transformers'
 * `from_pretrained` decides).
 */
import fs from 'node:fs';
import { ModelLoadError } from '../model/errors.js';

export interface HubId {
  /** `org/name` (or a legacy single-segment name after `hf:`). */
  repo: string;
  /** Branch, tag or commit hash. Default `main`. */
  revision: string;
  /** True when given without `hf:`, so messages can say no local folder had that name either. */
  bare: boolean;
}

const PREFIX = 'hf:';
// The hub's own rule for names: letters, digits, '-', '_', '.'; no leading or trailing '-' or '.'.
const NAME = '[A-Za-z0-9](?:[\\w.-]*[A-Za-z0-9_])?';
// A branch, tag or commit; it names a file under refs/, so no empty or '..' segments.
const REVISION = '(?:@(?!(?:[\\w.-]+/)*\\.\\.?(?:/|$))[\\w.-]+(?:/[\\w.-]+)*)?';
const BARE_ID = new RegExp(`^${NAME}/${NAME}${REVISION}$`);
const PREFIXED_ID = new RegExp(`^(?:${NAME}/)?${NAME}${REVISION}$`);

/**
 * The hub repo `source` names, or undefined when it is a local path.
 * @throws ModelLoadError HUB_INVALID_ID for an `hf:` source that is not `org/name[@revision]`.
 */
export function parseHubId(source: string): HubId | undefined {
  if (source.startsWith(PREFIX)) {
    const id = source.slice(PREFIX.length);
    if (!PREFIXED_ID.test(id)) {
      throw new ModelLoadError('HUB_INVALID_ID', `${source}: a hub model is hf:org/name or hf:org/name@revision`);
    }
    return split(id, false);
  }
  if (!BARE_ID.test(source) || fs.existsSync(source)) return undefined;
  return split(source, true);
}

function split(id: string, bare: boolean): HubId {
  const at = id.indexOf('@');
  return at < 0 ? { repo: id, revision: 'main', bare } : { repo: id.slice(0, at), revision: id.slice(at + 1), bare };
}

/** `org/name` or `org/name@revision` (revision `main` left out), as a user would type it. */
export function formatHubId(id: HubId): string {
  return id.revision === 'main' ? id.repo : `${id.repo}@${id.revision}`;
}
