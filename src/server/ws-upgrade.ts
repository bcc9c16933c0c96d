/**
 * The WebSocket endpoint on the HTTP server's `upgrade` event: only `/v1/ws`, authenticated before
 * the handshake (a refused upgrade gets a plain HTTP status and its socket is destroyed), then one
 * Connection per client, and the heartbeat that pings them all.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { isAuthorized } from './auth.js';
import { Connection } from './connection.js';
import type { ServerContext } from './context.js';

export const WS_PATH = '/v1/ws';

export interface WebSocketEndpoint {
  /** Stops the heartbeat and terminates every connection (cancelling their requests). */
  close(): void;
}

export function attachWebSocket(server: Server, ctx: ServerContext): WebSocketEndpoint {
  const { apiKey, maxPayload, heartbeatMs } = ctx.options;
  // ws enforces maxPayload while reading a frame: past it, the frame is not buffered and the connection closes (1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false });
  const connections = new Set<Connection>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== WS_PATH) return refuse(socket, 404);
    if (!isAuthorized(req, apiKey)) return refuse(socket, 401);
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

/** Answers an upgrade with a plain HTTP status and destroys the socket once it is written. */
function refuse(socket: Duplex, status: 401 | 404): void {
  socket.once('finish', () => socket.destroy());
  const extra = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}
