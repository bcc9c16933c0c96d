/**
 * `multiverse serve`: one model over HTTP and WebSocket (createServer: the OpenAI-compatible API,
 * protocol v1 at /v1/ws, /health, /metrics) with the live viewer at `/`, until SIGINT or SIGTERM,
 * which drain: new requests are refused, running ones get --drain-timeout seconds to finish, the
 * rest end with a SHUTTING_DOWN error event.
 * Exit codes: 0 after SIGTERM (a supervisor's ordinary stop), 130 after SIGINT (Ctrl-C, 128 + 2 as
 * shells report it), 1 when the port cannot be bound.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createServer, type MultiverseServer, type ServerAddress } from '../server/server.js';
import { SERVER_DEFAULTS } from '../server/options.js';
import { isLoopback } from '../server/http/exposure.js';
import { numberOption, UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { packageRoot } from '../facade/shipped-models.js';
import { parseHubId } from '../hub/hub-id.js';
import { log, MODEL_SPEC, parseCommand, withModel } from './model-input.js';
import { API_KEY_ENV, SERVE_USAGE } from './usage.js';

const OPTIONS: Record<string, OptionSpec> = {
  host: { kind: 'string', help: `interface to bind (default ${SERVER_DEFAULTS.host}: this machine only; beyond it, set a key)` },
  port: { kind: 'string', help: `TCP port; 0 picks a free one (default ${SERVER_DEFAULTS.port})` },
  'api-key-file': { kind: 'string', help: `require the key in this file (first line) on the API and WebSocket; or set ${API_KEY_ENV}` },
  'api-key': { kind: 'string', help: 'require this key (Authorization: Bearer KEY, or ?api_key=KEY); other users see it in ps: prefer the file or env' },
  'allow-origin': { kind: 'strings', help: 'let web pages from this origin (https://app.example:8443) call the server; repeatable' },
  'drain-timeout': { kind: 'string', help: `seconds running requests may take to finish on SIGTERM/SIGINT (default ${SERVER_DEFAULTS.drainTimeoutMs / 1000})` },
  'max-queued': { kind: 'string', help: 'requests that may wait for KV at once; more get 429 / OVERLOADED (default 1024)' },
};

/** Exit code for each signal that stops the server. */
const EXIT_CODES = { SIGTERM: 0, SIGINT: 130 } as const;
type StopSignal = keyof typeof EXIT_CODES;

/** The built viewer: index.html beside the compiled dist/viewer/src/app.js (`npm run build` compiles it). */
function viewerDir(): string | undefined {
  const dir = path.join(packageRoot(), 'viewer');
  if (fs.existsSync(path.join(dir, 'dist', 'viewer', 'src', 'app.js'))) return dir;
  log(`viewer not built (no ${path.join(dir, 'dist', 'viewer', 'src', 'app.js')}; run npm run build): / will answer 404`);
  return undefined;
}

export async function serveCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, SERVE_USAGE, OPTIONS, MODEL_SPEC);
  if (!args) return 0;
  if (args.positionals.length > 0) throw new UsageError(`serve takes no arguments, got ${args.positionals.join(' ')}\n${SERVE_USAGE}`);
  const { host, 'allow-origin': allowOrigins } = args.options;
  const options = {
    host: typeof host === 'string' ? host : undefined,
    port: numberOption(args, 'port', true),
    apiKey: readApiKey(args.options),
    allowOrigins: Array.isArray(allowOrigins) ? allowOrigins : undefined,
    viewerDir: viewerDir(),
    // A hub model's folder is named by its commit; clients see the repo id instead.
    modelId: typeof args.options.model === 'string' ? parseHubId(args.options.model)?.repo : undefined,
    drainTimeoutMs: drainTimeoutMs(args),
  };
  const maxQueuedRequests = numberOption(args, 'max-queued', true);
  if (maxQueuedRequests !== undefined && maxQueuedRequests < 0) throw new UsageError(`--max-queued must be >= 0, got ${maxQueuedRequests}`);
  // Listen for the signals from the start, so one that comes while the model loads still stops us cleanly.
  const stopped = nextStopSignal();
  return withModel(args, false, async (model) => {
    let server: MultiverseServer;
    try {
      server = createServer(model, options);
    } catch (err) {
      // createServer states the rule a bad --host or --port breaks.
      if (err instanceof TypeError) throw new UsageError(err.message);
      throw err;
    }
    if (options.apiKey === undefined && !isLoopback(server.options.host)) {
      log(`warning: binding ${server.options.host} without an api key: anyone who can reach this machine can use the model; set ${API_KEY_ENV} or --api-key-file`);
    }
    let address: ServerAddress;
    try {
      address = await server.listen();
    } catch (err) {
      log(`multiverse: cannot listen on ${server.options.host}:${server.options.port}: ${(err as Error).message}`);
      return 1;
    }
    process.stdout.write(urls(address, options.apiKey !== undefined));
    const signal = await stopped;
    log(`${signal}: refusing new requests, letting running ones finish (up to ${server.options.drainTimeoutMs / 1000} s; again to stop at once)`);
    await server.close();
    return EXIT_CODES[signal];
  }, { maxQueuedRequests });
}

/** --drain-timeout in seconds, as milliseconds. */
function drainTimeoutMs(args: Parameters<typeof numberOption>[0]): number | undefined {
  const seconds = numberOption(args, 'drain-timeout', false);
  if (seconds === undefined) return undefined;
  if (seconds < 0) throw new UsageError(`--drain-timeout must be >= 0 seconds, got ${seconds}`);
  return Math.round(seconds * 1000);
}

/**
 * The api key from --api-key, --api-key-file (its first line) or MULTIVERSE_API_KEY, in that order.
 * @throws UsageError when both flags are given, or the file cannot be read or holds no key.
 */
function readApiKey(options: ParsedArgs['options']): string | undefined {
  const { 'api-key': inline, 'api-key-file': file } = options;
  if (typeof inline === 'string' && typeof file === 'string') throw new UsageError('give --api-key or --api-key-file, not both');
  if (typeof inline === 'string') return inline;
  if (typeof file === 'string') {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--api-key-file: cannot read ${file}: ${(err as Error).message}`);
    }
    const key = text.split(/\r?\n/)[0].trim();
    if (key === '') throw new UsageError(`--api-key-file: ${file} holds no key on its first line`);
    return key;
  }
  return process.env[API_KEY_ENV] || undefined;
}

function urls({ url, wsUrl }: ServerAddress, keyed: boolean): string {
  return [
    `serving on ${url} (Ctrl-C to stop)`,
    `  viewer     ${url}/${keyed ? '  (type the api key into the page)' : ''}`,
    `  OpenAI     ${url}/v1  (chat/completions, completions, models)`,
    `  WebSocket  ${wsUrl}  (protocol v1)`,
    `  health     ${url}/health`,
    `  metrics    ${url}/metrics`,
    '',
  ].join('\n');
}

/** The first SIGINT or SIGTERM; after it the default handlers are back, so a second Ctrl-C ends the process at once. */
function nextStopSignal(): Promise<StopSignal> {
  return new Promise((resolve) => {
    const stop = (signal: StopSignal) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
