/**
 * Where the hub is and how to reach it: options first, then the environment variables Python's
 * `huggingface_hub` reads, so both share one cache, one login and one offline switch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getHFHubCachePath } from '@huggingface/hub';

/** How `loadModel` and `multiverse pull` reach the Hugging Face hub. Every field defaults from the environment. */
export interface HubOptions {
  /** Cache folder in huggingface_hub's layout. Default: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Hub base URL. Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Access token for gated and private repos. Default: `HF_TOKEN`, else the token file `hf auth login` wrote (`HF_TOKEN_PATH`, else `$HF_HOME/token`). */
  token?: string;
  /** Use the cache only, never the network. Default: `HF_HUB_OFFLINE` set to 1/ON/YES/TRUE. */
  offline?: boolean;
  /**
   * Called as a download proceeds with the bytes received and the bytes to fetch in all (only files
   * not already cached count). Default: a progress bar on stderr when it is a TTY and
   * `HF_HUB_DISABLE_PROGRESS_BARS` is not set; nothing otherwise.
   */
  onProgress?: (received: number, total: number, file: string) => void;
}

export interface HubSettings {
  cacheDir: string;
  endpoint: string;
  token: string | undefined;
  offline: boolean;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** huggingface_hub's reading of a boolean variable. */
export function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

/** The settings `options` and the environment give; the cache path is @huggingface/hub's reading of it. */
export function hubSettings(options: HubOptions = {}): HubSettings {
  const env = process.env;
  return {
    cacheDir: options.cacheDir ?? getHFHubCachePath(),
    endpoint: (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    token: options.token ?? tokenFrom(env),
    offline: options.offline ?? isTrue(env.HF_HUB_OFFLINE),
  };
}

function tokenFrom(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  try {
    return fs.readFileSync(env.HF_TOKEN_PATH ?? path.join(home, 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
