/**
 * The hub's failures as ModelLoadErrors with stable codes and a next step. The hub says what went
 * wrong in `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo); the status
 * alone is ambiguous (it answers 401 for a repo that does not exist when no token is sent, so as
 * not to reveal private ones).
 */
import { ModelLoadError } from '../model/errors.js';
import { formatHubId, type HubId } from './hub-id.js';
import type { HubSettings } from './settings.js';

/** What was being fetched, for the message. */
export interface HubRequest {
  id: HubId;
  settings: HubSettings;
  file: string;
}

const TOKEN_HINT = 'set HF_TOKEN to a token with read access (https://huggingface.co/settings/tokens)';

/** The repo as the user named it, saying so when it was also tried as a local folder. */
export function named(id: HubId): string {
  return id.bare ? `'${id.repo}' (no local folder of that name, so tried as a hub repo)` : `'${formatHubId(id)}'`;
}

export function responseError(res: Response, { id, settings, file }: HubRequest): ModelLoadError {
  const code = res.headers.get('x-error-code');
  const where = `${settings.endpoint}/${id.repo}`;
  if (code === 'GatedRepo') {
    return new ModelLoadError('HUB_UNAUTHORIZED', `${named(id)} is gated: accept its conditions at ${where}, then ${TOKEN_HINT} of that account`, file);
  }
  if (code === 'RepoNotFound') {
    const hint = settings.token ? 'check the name, and that your token can see it' : `check the name; if the repo is private, ${TOKEN_HINT}`;
    return new ModelLoadError('HUB_NOT_FOUND', `${named(id)}: no such model repo on ${settings.endpoint}: ${hint}`, file);
  }
  if (code === 'RevisionNotFound') {
    return new ModelLoadError('HUB_NOT_FOUND', `${named(id)}: the repo has no branch, tag or commit '${id.revision}' (see ${where}/tree/main)`, file);
  }
  if (code === 'EntryNotFound') return missingFileError({ id, settings, file });
  if (res.status === 401 || res.status === 403) {
    const hint = settings.token ? 'the token sent (HF_TOKEN or the saved login) has no access to it' : TOKEN_HINT;
    return new ModelLoadError('HUB_UNAUTHORIZED', `${named(id)}: the hub refused access (${res.status}): ${hint}`, file);
  }
  if (res.status === 404) {
    return new ModelLoadError('HUB_NOT_FOUND', `${named(id)}: ${settings.endpoint} has no ${file} there (404)`, file);
  }
  return new ModelLoadError('HUB_NETWORK', `${named(id)}: ${settings.endpoint} answered ${res.status} for ${file}: try again later, or set HF_HUB_OFFLINE=1 to use the cache only`, file);
}

/** A file a checkpoint needs that the repo does not have. */
export function missingFileError({ id, file }: HubRequest): ModelLoadError {
  return new ModelLoadError(
    'HUB_NOT_FOUND',
    `${named(id)} has no ${file} at '${id.revision}': multiverse loads checkpoints with config.json, tokenizer.json and safetensors weights (model.safetensors, or model.safetensors.index.json and its shards)`,
    file,
  );
}

/** A request that got no answer (refused, reset, DNS, cut mid-body). */
export function networkError(err: unknown, { id, settings, file }: HubRequest): ModelLoadError {
  const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
  return new ModelLoadError(
    'HUB_NETWORK',
    `${named(id)}: cannot fetch ${file} from ${settings.endpoint} (${cause}): check the connection or HF_ENDPOINT, then run again (a partial download resumes where it stopped); HF_HUB_OFFLINE=1 uses the cache only`,
    file,
  );
}

export function badResponse(what: string, { id, settings, file }: HubRequest): ModelLoadError {
  return new ModelLoadError('HUB_BAD_RESPONSE', `${named(id)}: ${settings.endpoint} answered for ${file} without ${what}: is HF_ENDPOINT a Hugging Face hub?`, file);
}
