/**
 * createServer(model, options): one node:http server carrying the WebSocket endpoint (`/v1/ws`,
 * protocol v1), the OpenAI-compatible HTTP API, `/health`, `/metrics` and the viewer's files.
 *
 * @example
 * ```ts
 * const model = await loadModel();
 * const server = createServer(model, { port: 8080, apiKey: process.env.API_KEY });
 * const { url } = await server.listen();
 * // ...
 * await server.close();
 * ```
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServedModel } from './served-model.js';
import type { ServerContext } from './context.js';
import { Drain, shuttingDown } from './drain.js';
import { sendError } from './http/http-error.js';
import { ServerMetrics } from './metrics.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { createRouter } from './http/router.js';
import { attachWebSocket, WS_PATH } from './ws/ws-upgrade.js';

export interface ServerAddress {
  host: string;
  port: number;
  /** `http://host:port` */
  url: string;
  /** `ws://host:port/v1/ws` */
  wsUrl: string;
}

export interface MultiverseServer {
  /** The underlying node:http server (already carrying the routes and the upgrade handler). */
  readonly http: http.Server;
  readonly options: ResolvedServerOptions;
  readonly metrics: ServerMetrics;
  /** Starts listening on options.host and options.port. Rejects when the port is taken. */
  listen(): Promise<ServerAddress>;
  /**
   * Graceful shutdown: stops listening and refuses new requests (503 / SHUTTING_DOWN), lets running
   * requests finish for up to `drainTimeoutMs`, ends each one left with a SHUTTING_DOWN error event
   * (an SSE stream gets it, then `data: [DONE]`; a WebSocket request its error event), closes every
   * WebSocket with 1001 and every HTTP connection, and resolves. Nothing in flight ends silently.
   */
  close(): Promise<void>;
}

/**
 * Builds the server; nothing listens until `listen()`. The model stays the caller's to dispose.
 * @throws TypeError when an option breaks its rule (the message states it).
 */
export function createServer(model: ServedModel, options: ServerOptions = {}): MultiverseServer {
  const resolved = resolveServerOptions(model, options);
  const ctx: ServerContext = { model, options: resolved, metrics: new ServerMetrics(model), drain: new Drain() };
  const router = createRouter(ctx);
  const server = http.createServer((req, res) => {
    if (!ctx.drain.closing) return router(req, res);
    res.setHeader('connection', 'close');
    sendError(res, shuttingDown('takes no new requests'));
  });
  const ws = attachWebSocket(server, ctx);
  let closed: Promise<void> | undefined;
  return {
    http: server,
    options: resolved,
    metrics: ctx.metrics,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(resolved.port, resolved.host, () => {
          server.off('error', reject);
          const { address, port } = server.address() as AddressInfo;
          const host = address.includes(':') ? `[${address}]` : address;
          resolve({ host: address, port, url: `http://${host}:${port}`, wsUrl: `ws://${host}:${port}${WS_PATH}` });
        });
      }),
    close: () => (closed ??= shutDown()),
  };

  async function shutDown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await ctx.drain.drain(resolved.drainTimeoutMs);
    ws.close();
    // Every response has ended; keep-alive sockets would hold close() open.
    server.closeAllConnections();
    await stopped;
  }
}

