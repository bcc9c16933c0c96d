/**
 * One WebSocket client's state: its running requests by id, its outbox, its heartbeat. A message
 * that fails (malformed, oversized, a duplicate id, over the limit) gets an error event and changes
 * nothing else. Every request ends with exactly one `done` or `error` event (CANCELLED after a
 * cancel, SHUTTING_DOWN when the server's drain timeout ends it). Closing the connection
 * unsubscribes every request it runs, which frees their KV; so does a client that stops reading
 * (1008), at once, before the close handshake that it may never read.
 */
import { Subscription } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { GenerationError } from '../../engine/errors.js';
import type { ServerContext } from '../context.js';
import { Outbox } from './outbox.js';
import { ProtocolError, type GenerateMessage, type RequestId } from '../../protocol/messages.js';
import { parseClientMessage } from '../../protocol/parse.js';
import { errorEvent, toWire } from '../../protocol/write.js';
import { checkWireLimits } from '../request-limits.js';

/** Close code for a client that let its queue pass maxQueuedBytes (RFC 6455: policy violation). */
const CLOSE_POLICY = 1008;
/** Close code when the server shuts down (RFC 6455: going away). */
const CLOSE_GOING_AWAY = 1001;
/** How long a closing handshake may take before the socket is destroyed (a client that does not read never answers). */
const CLOSE_GRACE_MS = 2000;

export class Connection {
  private readonly requests = new Map<RequestId, Subscription>();
  private readonly outbox: Outbox;
  /** Answered the last ping (heartbeat). */
  private alive = true;
  private closed = false;
  private readonly untrack: () => void;

  constructor(
    private readonly socket: WebSocket,
    private readonly ctx: ServerContext,
  ) {
    const { coalesceAboveBytes, maxQueuedBytes } = ctx.options;
    this.outbox = new Outbox(socket, {
      coalesceAboveBytes,
      maxQueuedBytes,
      // The client is not reading: stop its requests now (their output has nowhere to go), then close.
      onOverflow: () => {
        this.dispose();
        void this.close(CLOSE_POLICY, 'send queue over maxQueuedBytes: the client is not reading');
      },
    });
    ctx.metrics.wsConnectionOpened();
    this.untrack = ctx.drain.trackConnection(() => this.close(CLOSE_GOING_AWAY, 'server shutting down'));
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => this.dispose());
    // A socket error (reset, a frame over maxPayload) is followed by 'close', which cleans up.
    socket.on('error', () => undefined);
    if (ctx.drain.closing) void this.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  /** Called every heartbeat interval: a client that missed the previous ping is terminated. */
  heartbeat(): void {
    if (!this.alive) return void this.socket.terminate();
    this.alive = false;
    this.socket.ping();
  }

  /** Terminates the connection (server shutdown); its requests are cancelled. */
  terminate(): void {
    this.socket.terminate();
    this.dispose();
  }

  /** Starts the closing handshake; resolves once the socket has closed, destroying it after CLOSE_GRACE_MS. */
  private close(code: number, reason: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === this.socket.CLOSED) return resolve();
      const timer = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(code, reason);
    });
  }

  /** Never throws: whatever goes wrong with one message becomes an error event for it. */
  private onMessage(data: RawData, isBinary: boolean): void {
    let id: RequestId | null = null;
    try {
      const msg = parseClientMessage(data as Buffer, isBinary, this.ctx.options.maxMessageBytes);
      id = msg.id;
      if (msg.type === 'cancel') this.cancel(msg.id);
      else this.generate(msg);
    } catch (err) {
      if (err instanceof ProtocolError) this.ctx.metrics.wsError(err.code);
      this.outbox.push(errorEvent(err instanceof ProtocolError ? err.id : id, err));
    }
  }

  /** @throws ProtocolError SHUTTING_DOWN, DUPLICATE_ID, TOO_MANY_REQUESTS; GenerationError INVALID_REQUEST for an option over the server's caps. */
  private generate({ id, input, options = {} }: GenerateMessage): void {
    const { model, metrics, drain, options: server } = this.ctx;
    if (drain.closing) throw new ProtocolError('SHUTTING_DOWN', 'the server is shutting down and takes no new requests', id);
    if (this.requests.has(id)) throw new ProtocolError('DUPLICATE_ID', `request ${JSON.stringify(id)} is still running on this connection`, id);
    if (this.requests.size >= server.maxConcurrentRequests) {
      throw new ProtocolError('TOO_MANY_REQUESTS', `this connection already runs ${server.maxConcurrentRequests} requests (maxConcurrentRequests)`, id);
    }
    checkWireLimits(options, this.ctx);
    const prepared = server.prepareOptions?.(options, 'ws') ?? options;
    const request = new Subscription();
    this.requests.set(id, request);
    metrics.requestStarted('ws');
    const end = (outcome: 'done' | 'error') => {
      this.requests.delete(id);
      request.unsubscribe();
      metrics.requestEnded('ws', outcome);
    };
    request.add(
      drain.track({
        shutDown: () => {
          end('error');
          this.outbox.push(errorEvent(id, new ProtocolError('SHUTTING_DOWN', 'the server shut down before the request finished (drain timeout)', id)));
        },
      }),
    );
    request.add(
      model.events(input, prepared).subscribe({
        next: (e) => {
          metrics.record(e);
          this.outbox.push(toWire(id, e));
        },
        error: (err: unknown) => {
          end('error');
          this.outbox.push(errorEvent(id, err));
        },
        complete: () => end('done'),
      }),
    );
  }

  /** @throws ProtocolError UNKNOWN_ID. */
  private cancel(id: RequestId): void {
    const request = this.requests.get(id);
    if (!request) throw new ProtocolError('UNKNOWN_ID', `no running request has id ${JSON.stringify(id)}`, id);
    this.requests.delete(id);
    request.unsubscribe();
    this.ctx.metrics.requestEnded('ws', 'cancelled');
    this.outbox.push(errorEvent(id, new GenerationError('CANCELLED', 'cancelled by the client')));
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const request of this.requests.values()) {
      request.unsubscribe();
      this.ctx.metrics.requestEnded('ws', 'cancelled');
    }
    this.requests.clear();
    this.outbox.close();
    this.untrack();
    this.ctx.metrics.wsConnectionClosed();
  }
}
