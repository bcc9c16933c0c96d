/**
 * Graceful shutdown: what runs on the server (requests, WebSocket connections), so that close()
 * can stop taking new work, let running requests finish up to the drain timeout, and then end each
 * one that is left with a SHUTTING_DOWN error event instead of dropping it.
 */
import { HttpError } from './http/http-error.js';

/** The HTTP error (503, code SHUTTING_DOWN) of a request refused or ended by the shutdown; `what` says which. */
export function shuttingDown(what: string): HttpError {
  return new HttpError(503, 'server_error', `the server is shutting down and ${what}`, null, 'SHUTTING_DOWN');
}

/** A running request as the drain sees it. */
export interface DrainableRequest {
  /** Ends the request now with a SHUTTING_DOWN error event; resolves once it has been handed to the socket. */
  shutDown(): void | Promise<void>;
}

/** A connection as the drain sees it: told to go away (close 1001) once its requests have ended. */
export type GoAway = () => Promise<void>;

export class Drain {
  private draining = false;
  private readonly requests = new Set<DrainableRequest>();
  private readonly connections = new Set<GoAway>();
  private emptied?: () => void;

  /** True once close() began: new requests are refused with SHUTTING_DOWN. */
  get closing(): boolean {
    return this.draining;
  }

  /** Tracks a running request until the returned function is called (it ended). */
  track(request: DrainableRequest): () => void {
    this.requests.add(request);
    return () => {
      this.requests.delete(request);
      if (this.requests.size === 0) this.emptied?.();
    };
  }

  /** Tracks a connection until the returned function is called (it closed). */
  trackConnection(goAway: GoAway): () => void {
    this.connections.add(goAway);
    return () => this.connections.delete(goAway);
  }

  /**
   * Refuses new requests, waits until every tracked request has ended or `timeoutMs` has passed,
   * ends the rest with SHUTTING_DOWN, then tells every connection to go away. Resolves with the
   * number of requests it had to end.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    if (this.requests.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.emptied = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    const left = [...this.requests];
    await Promise.all(left.map((r) => r.shutDown()));
    await Promise.all([...this.connections].map((goAway) => goAway()));
    return left.length;
  }
}
