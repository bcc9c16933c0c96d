/**
 * createServer's options: what each one is, its default (all defaults live in SERVER_DEFAULTS),
 * and the validation that turns a bad configuration into an error stating the rule.
 */
import path from 'node:path';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { ServedModel } from './served-model.js';
import { originRule } from './http/exposure.js';

/** Where a request came from, for the prepareOptions hook. */
export type RequestSource = 'ws' | 'chat' | 'completions';

export interface ServerOptions {
  /** Interface to bind. Type string. Default '127.0.0.1' (loopback only). */
  host?: string;
  /** TCP port; 0 picks a free one. Type integer 0..65535. Default 8080. */
  port?: number;
  /**
   * When set, every HTTP request and WebSocket upgrade must carry it as `Authorization: Bearer KEY`
   * (or `?api_key=KEY`, for browsers); others get 401. Type non-empty string. Default: none (open).
   */
  apiKey?: string;
  /**
   * Web origins (`https://app.example:8443`) whose pages may call the API and open WebSockets,
   * besides the server's own (the viewer). Requests without an Origin header (curl, SDKs) are not
   * affected. Type string[]. Default [] (no other site).
   */
  allowOrigins?: readonly string[];
  /** The model name `/v1/models` lists and requests may name. Type string. Default: the model folder's name. */
  modelId?: string;
  /** Folder of the viewer page served at `/`. Type string. Default: none (`/` answers 404). */
  viewerDir?: string;
  /** Largest HTTP request body; larger ones get 413. Type integer >= 1 (bytes). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Most choices (`n`) one OpenAI request may ask for. Type integer >= 1. Default 16. */
  maxChoices?: number;
  /**
   * Most `maxTokens` (`max_tokens`) one request may ask for, on every path; `maxTotalTokens` may be
   * at most 8 times it. Type integer >= 1. Default: the model's context length.
   */
  maxTokens?: number;
  /** Most `multiverse.maxDepth` a WebSocket request may ask for. Type integer >= 0. Default 4 (the engine's default). */
  maxDepth?: number;
  /** Most `multiverse.maxPathsPerFork` a WebSocket request may ask for. Type integer >= 0. Default 8 (the engine's default). */
  maxPathsPerFork?: number;
  /** Requests one WebSocket connection may run at once; more get TOO_MANY_REQUESTS. Type integer >= 1. Default 16. */
  maxConcurrentRequests?: number;
  /**
   * Largest WebSocket message the server reads; a larger one fails alone with PAYLOAD_TOO_LARGE.
   * Type integer >= 1 (bytes). Default 1 MiB.
   */
  maxMessageBytes?: number;
  /**
   * Largest WebSocket frame the server accepts at all: beyond it `ws` stops reading and closes the
   * connection with 1009 without buffering the frame. Type integer >= maxMessageBytes. Default 8 MiB.
   */
  maxPayload?: number;
  /**
   * Most bytes held for one connection (its socket's send buffer plus coalesced tokens not yet
   * sent); past it the client is not reading, and the connection is closed (1008) and its
   * requests cancelled. Type integer >= coalesceAboveBytes. Default 8 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * When a connection's send buffer holds more than this, its token events are held and merged
   * per branch until the buffer drains. Type integer >= 0 (bytes). Default 64 KiB.
   */
  coalesceAboveBytes?: number;
  /**
   * Ping interval; a client that has not answered the previous ping by the next one is
   * terminated. Type integer >= 0 (milliseconds; 0 turns heartbeats off). Default 30000.
   */
  heartbeatMs?: number;
  /**
   * How long close() (and SIGTERM/SIGINT under `multiverse serve`) lets running requests finish
   * before ending each one left with a SHUTTING_DOWN error event. Type integer >= 0
   * (milliseconds). Default 10000.
   */
  drainTimeoutMs?: number;
  /**
   * Applied to every request's options before it runs (clamp limits, add a pickToken hook).
   * Type `(options, source) => GenerateOptions`. Default: none (options as sent).
   */
  prepareOptions?: (options: GenerateOptions, source: RequestSource) => GenerateOptions;
}

/** The options a running server uses: every default filled in (`server.options`); the key, viewer folder and hook stay optional. */
export type ResolvedServerOptions = Required<Omit<ServerOptions, 'apiKey' | 'viewerDir' | 'prepareOptions'>> &
  Pick<ServerOptions, 'apiKey' | 'viewerDir' | 'prepareOptions'>;

const MiB = 1024 * 1024;

/** Every default in one place (modelId's default depends on the model: its folder's name). */
export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  allowOrigins: [] as readonly string[],
  maxBodyBytes: MiB,
  maxChoices: 16,
  maxDepth: 4,
  maxPathsPerFork: 8,
  maxConcurrentRequests: 16,
  maxMessageBytes: MiB,
  maxPayload: 8 * MiB,
  maxQueuedBytes: 8 * MiB,
  coalesceAboveBytes: 64 * 1024,
  heartbeatMs: 30_000,
  drainTimeoutMs: 10_000,
} as const;

/**
 * Fills defaults and checks every option.
 * @throws TypeError naming the option and the rule it breaks.
 */
export function resolveServerOptions(model: Pick<ServedModel, 'info'>, options: ServerOptions): ResolvedServerOptions {
  const o = { ...SERVER_DEFAULTS, modelId: path.basename(model.info.dir), maxTokens: model.info.contextLength, ...dropUndefined(options) };
  if (typeof o.host !== 'string' || o.host === '') invalid('host must be a non-empty string');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) invalid(`port must be an integer 0..65535, got ${JSON.stringify(o.port)}`);
  if (o.apiKey !== undefined && (typeof o.apiKey !== 'string' || o.apiKey === '')) invalid('apiKey must be a non-empty string when set');
  if (typeof o.modelId !== 'string' || o.modelId === '') invalid('modelId must be a non-empty string');
  if (o.viewerDir !== undefined && typeof o.viewerDir !== 'string') invalid('viewerDir must be a folder path (string) when set');
  if (o.prepareOptions !== undefined && typeof o.prepareOptions !== 'function') invalid('prepareOptions must be a function when set');
  if (!Array.isArray(o.allowOrigins)) invalid(`allowOrigins must be an array of origins, got ${JSON.stringify(o.allowOrigins)}`);
  for (const origin of o.allowOrigins) {
    const broken = originRule(origin);
    if (broken) invalid(`allowOrigins ${broken}`);
  }
  integer('maxBodyBytes', o.maxBodyBytes, 1);
  integer('maxChoices', o.maxChoices, 1);
  integer('maxTokens', o.maxTokens, 1);
  integer('maxDepth', o.maxDepth, 0);
  integer('maxPathsPerFork', o.maxPathsPerFork, 0);
  integer('maxConcurrentRequests', o.maxConcurrentRequests, 1);
  integer('maxMessageBytes', o.maxMessageBytes, 1);
  integer('maxPayload', o.maxPayload, o.maxMessageBytes, 'maxMessageBytes');
  integer('coalesceAboveBytes', o.coalesceAboveBytes, 0);
  integer('maxQueuedBytes', o.maxQueuedBytes, o.coalesceAboveBytes, 'coalesceAboveBytes');
  integer('heartbeatMs', o.heartbeatMs, 0);
  integer('drainTimeoutMs', o.drainTimeoutMs, 0);
  return o;
}

/** `minName`: the option whose value is the minimum, named in the message. */
function integer(name: string, value: unknown, min: number, minName?: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    invalid(`${name} must be an integer >= ${minName ? `${minName} (${min})` : min}, got ${JSON.stringify(value)}`);
  }
}

function invalid(rule: string): never {
  throw new TypeError(`createServer: ${rule}`);
}

/** `{ port: undefined }` means "the default", as if the key were absent. */
function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
