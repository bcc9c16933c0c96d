/**
 * The WebSocket endpoint on the HTTP server's `upgrade` event: only `/v1/ws`, checked before the
 * handshake (a malformed target 400, a refused Origin or Host 403, another path 404, no key 401:
 * each a plain HTTP status, after which the socket is destroyed), then one Connection per client,
 * and the heartbeat that pings them all.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { isAuthorized } from '../http/auth.js';
import { Connection } from './connection.js';
import type { ServerContext } from '../context.js';
import { exposureRefusal } from '../http/exposure.js';
import { parseRequestTarget } from '../http/request-target.js';

export const WS_PATH = '/v1/ws';

export interface WebSocketEndpoint {
  /** Stops the heartbeat and terminates every connection (cancelling their requests). */
  close(): void;
}

export function attachWebSocket(server: Server, ctx: ServerContext): WebSocketEndpoint {
  const { maxPayload, heartbeatMs } = ctx.options;
  // ws enforces maxPayload while reading a frame: past it, the frame is not buffered and the connection closes (1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false });
  const connections = new Set<Connection>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const status = refusalStatus(req, ctx);
    if (status !== undefined) return refuse(socket, status);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(ws, ctx);
      connections.add(connection);
      ws.on('close', () => connections.delete(connection));
    });
  });

  const heartbeat = heartbeatMs > 0 ? setInterval(() => connections.forEach((c) => c.heartbeat()), heartbeatMs) : undefined;
  heartbeat?.unref();

  return {
    close() {
      clearInterval(heartbeat);
      for (const c of connections) c.terminate();
      connections.clear();
      wss.close();
    },
  };
}

type RefusalStatus = 400 | 401 | 403 | 404 | 500;

/**
 * The status an upgrade is refused with, or undefined when it may go on to the handshake. Total: a
 * throw from an event listener would be uncaught and end the process, so a fault refuses with 500.
 */
function refusalStatus(req: IncomingMessage, ctx: ServerContext): RefusalStatus | undefined {
  try {
    return checkUpgrade(req, ctx);
  } catch {
    return 500;
  }
}

function checkUpgrade(req: IncomingMessage, ctx: ServerContext): RefusalStatus | undefined {
  const target = parseRequestTarget(req.url);
  if (!target) return 400;
  if (exposureRefusal(req, target, ctx.options)) return 403;
  if (target.pathname !== WS_PATH) return 404;
  if (!isAuthorized(req, target.query, ctx.options.apiKey)) return 401;
  return undefined;
}

/** Answers an upgrade with a plain HTTP status and destroys the socket once it is written. */
function refuse(socket: Duplex, status: RefusalStatus): void {
  socket.once('finish', () => socket.destroy());
  const extra = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}
