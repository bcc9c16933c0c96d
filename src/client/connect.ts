/**
 * The TypeScript client of protocol v1: `connect(url)` opens one WebSocket, and `events()` gives
 * the same cold Observable of GenerationEvents as `model.events()` in process, so the same
 * operators work on remote streams. Requests share the connection, each under its own id;
 * unsubscribing sends `cancel`. No reconnect: when the connection closes, running requests fail
 * with CONNECTION_CLOSED.
 *
 * @example
 * ```ts
 * const remote = await connect('ws://127.0.0.1:8080/v1/ws', { apiKey: process.env.API_KEY });
 * remote.events('Compute 12*3+24*5', { maxTokens: 64 }).subscribe((e) => {
 *   if (e.type === 'token') process.stdout.write(e.text);
 * });
 * ```
 */
import { Observable, type Subscriber } from 'rxjs';
import WebSocket from 'ws';
import type { GenerateInput } from '../rx/generate.js';
import type { GenerationEvent } from '../rx/events.js';
import { ProtocolError, type ClientMessage, type RequestId, type ServerEvent, type WireGenerateOptions } from '../protocol/messages.js';
import { errorFromWire, fromWire } from './wire-events.js';

export interface ConnectOptions {
  /** Sent as `Authorization: Bearer KEY`. Type string. Default: none. */
  apiKey?: string;
  /** Milliseconds the opening handshake may take. Type integer > 0. Default 10000. */
  handshakeTimeoutMs?: number;
}

/** A WebSocket connection to a `multiverse serve` (protocol v1): remote generations as the same events. */
export interface MultiverseConnection {
  /**
   * A cold Observable of one remote generation: subscribing sends `generate`, unsubscribing before
   * the end sends `cancel`. Errors are GenerationError (engine codes) or ProtocolError values.
   */
  events(input: GenerateInput, options?: WireGenerateOptions): Observable<GenerationEvent>;
  /** Closes the connection; running requests fail with CONNECTION_CLOSED. */
  close(): Promise<void>;
}

/**
 * Opens the connection. Rejects with ProtocolError UNAUTHORIZED when the server refuses the key,
 * CONNECTION_CLOSED when it cannot be reached or answers otherwise.
 * @throws TypeError for a bad option (the message states the rule).
 */
export function connect(url: string, options: ConnectOptions = {}): Promise<MultiverseConnection> {
  const handshakeTimeout = options.handshakeTimeoutMs ?? 10_000;
  if (!Number.isInteger(handshakeTimeout) || handshakeTimeout <= 0) {
    throw new TypeError(`connect: handshakeTimeoutMs must be an integer > 0, got ${JSON.stringify(options.handshakeTimeoutMs)}`);
  }
  const headers: Record<string, string> = options.apiKey !== undefined ? { authorization: `Bearer ${options.apiKey}` } : {};
  const socket = new WebSocket(url, { headers, handshakeTimeout });
  return new Promise((resolve, reject) => {
    let status: number | undefined;
    // A refusal is an HTTP answer to the upgrade: keep its status, then abort the handshake.
    socket.once('unexpected-response', (_req, res) => {
      status = res.statusCode;
      socket.terminate();
    });
    socket.once('error', (err) => {
      if (status === 401) reject(new ProtocolError('UNAUTHORIZED', `${url} refused the connection: missing or wrong api key`));
      else reject(new ProtocolError('CONNECTION_CLOSED', `cannot connect to ${url}: ${status !== undefined ? `HTTP ${status}` : err.message}`));
    });
    socket.once('open', () => resolve(new RemoteConnection(socket)));
  });
}

class RemoteConnection implements MultiverseConnection {
  private nextId = 1;
  private readonly running = new Map<RequestId, Subscriber<GenerationEvent>>();

  constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.onEvent(JSON.parse(data.toString()) as ServerEvent));
    socket.on('close', (code, reason) => {
      const err = new ProtocolError('CONNECTION_CLOSED', `the connection closed (${code}${reason.length ? `: ${reason}` : ''})`);
      for (const subscriber of this.running.values()) subscriber.error(err);
      this.running.clear();
    });
    // Errors are followed by 'close', which fails the running requests.
    socket.on('error', () => undefined);
  }

  events(input: GenerateInput, options: WireGenerateOptions = {}): Observable<GenerationEvent> {
    return new Observable<GenerationEvent>((subscriber) => {
      if (this.socket.readyState !== WebSocket.OPEN) {
        subscriber.error(new ProtocolError('CONNECTION_CLOSED', 'the connection is closed'));
        return;
      }
      const id = this.nextId++;
      this.running.set(id, subscriber);
      this.send({ type: 'generate', id, input, options });
      return () => {
        // Still running when let go: the server stops it and frees its KV.
        if (this.running.delete(id)) this.send({ type: 'cancel', id });
      };
    });
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }

  private onEvent(event: ServerEvent): void {
    // Events of requests let go (and errors that name no request of ours) have no one to go to.
    const subscriber = event.id === null ? undefined : this.running.get(event.id);
    if (!subscriber) return;
    if (event.type === 'error') {
      this.running.delete(event.id!);
      subscriber.error(errorFromWire(event));
      return;
    }
    for (const e of fromWire(event)) subscriber.next(e);
    if (event.type === 'done') {
      this.running.delete(event.id);
      subscriber.complete();
    }
  }

  private send(message: ClientMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
