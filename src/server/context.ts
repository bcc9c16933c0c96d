/** What the HTTP handlers and WebSocket connections of one server share. */
import type { ServedModel } from './served-model.js';
import type { Drain } from './drain.js';
import type { ServerMetrics } from './metrics.js';
import type { ResolvedServerOptions } from './options.js';

export interface ServerContext {
  model: ServedModel;
  options: ResolvedServerOptions;
  metrics: ServerMetrics;
  /** Running requests and connections, for the graceful shutdown. */
  drain: Drain;
}
