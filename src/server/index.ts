/**
 * `multiverse-rx/server`: the HTTP and WebSocket server (protocol v1, OpenAI-compatible endpoints,
 * /health, /metrics, the viewer) over a loaded model.
 *
 * @example
 * ```ts
 * import { loadModel } from 'multiverse-rx';
 * import { createServer } from 'multiverse-rx/server';
 *
 * const server = createServer(await loadModel(), { port: 8080 });
 * const { url, wsUrl } = await server.listen();
 * ```
 * @packageDocumentation
 */
export { createServer, type MultiverseServer, type ServerAddress } from './server.js';
export { SERVER_DEFAULTS, type ServerOptions, type ResolvedServerOptions, type RequestSource } from './options.js';
export type { ServerMetrics, RequestOutcome } from './metrics.js';
export type { ServedModel } from './served-model.js';
