/**
 * The viewer's one WebSocket to the server (protocol v1, docs/protocol.md): opened on first use,
 * reopened after it closes or when the api key changes, with each event handed to the listener
 * of its request id.
 */
import type { GenerateMessage, RequestId, ServerEvent, WireErrorEvent } from '../../src/protocol/index.js';

type Listener = (event: ServerEvent) => void;

/** A running request: where its events go, and the socket it runs on. */
interface Running {
  listener: Listener;
  ws: WebSocket;
}

export class Connection {
  private socket: Promise<WebSocket> | undefined;
  private key = '';
  private readonly running = new Map<RequestId, Running>();

  /**
   * Sends `message` and hands its events to `listener` until the request's done or error event.
   * Resolves when the request has ended; rejects when no connection can be opened.
   */
  async request(message: GenerateMessage, apiKey: string, listener: Listener): Promise<void> {
    const ws = await this.open(apiKey);
    return new Promise((resolve) => {
      const ended = (event: ServerEvent) => {
        listener(event);
        if (event.type === 'done' || event.type === 'error') {
          this.running.delete(message.id);
          resolve();
        }
      };
      this.running.set(message.id, { listener: ended, ws });
      ws.send(JSON.stringify(message));
    });
  }

  /** Asks the server to stop a request; its CANCELLED error event ends it. */
  cancel(id: RequestId): void {
    void this.socket?.then((ws) => ws.send(JSON.stringify({ type: 'cancel', id })));
  }

  private open(apiKey: string): Promise<WebSocket> {
    if (this.socket && apiKey === this.key) return this.socket;
    void this.socket?.then((ws) => ws.close());
    this.key = apiKey;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws${apiKey ? `?api_key=${encodeURIComponent(apiKey)}` : ''}`;
    const socket = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(ws);
      // A browser tells nothing about a refused upgrade (a 401 looks like any failure).
      ws.onerror = () => reject(new Error(`cannot connect to ${url.replace(/api_key=[^&]*/, 'api_key=…')}: is the server up, and the api key right?`));
      ws.onmessage = (m) => this.dispatch(JSON.parse(String(m.data)) as ServerEvent);
      ws.onclose = () => {
        if (this.socket === socket) this.socket = undefined;
        this.failAll(ws);
      };
    });
    this.socket = socket;
    socket.catch(() => {
      if (this.socket === socket) this.socket = undefined;
    });
    return socket;
  }

  private dispatch(event: ServerEvent): void {
    if (event.id !== null) this.running.get(event.id)?.listener(event);
  }

  /** Ends the requests that were running on a connection that closed, as the TypeScript client does. */
  private failAll(ws: WebSocket): void {
    for (const [id, { ws: on }] of [...this.running]) {
      if (on !== ws) continue;
      const event: WireErrorEvent = { type: 'error', id, branch: '0', code: 'CONNECTION_CLOSED', message: `the connection to ${ws.url.split('?')[0]} closed` };
      this.dispatch(event);
    }
  }
}
