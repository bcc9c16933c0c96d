/**
 * Server metrics in Prometheus text format (exposition format 0.0.4). Request and token counters
 * are counted as the server streams; engine counters (steps, tokens stepped) and KV occupancy are
 * read from the model when scraped, so they reflect real engine work, whoever asked for it.
 */
import type { ServedModel } from './served-model.js';
import type { GenerationEvent } from '../rx/events.js';
import type { RequestSource } from './options.js';

export type RequestOutcome = 'done' | 'error' | 'cancelled';

/** Seconds of history behind the tokens/s gauge. */
const RATE_WINDOW_S = 10;

type Sample = [labels: Record<string, string>, value: number];

export class ServerMetrics {
  private readonly started = new Map<RequestSource, number>();
  private readonly ended = new Map<string, number>();
  private readonly wsErrors = new Map<string, number>();
  private active = 0;
  private tokens = 0;
  private forks = 0;
  private merges = 0;
  private wsConnections = 0;
  /** Generated tokens per whole second (epoch seconds), for the rate gauge. */
  private readonly perSecond = new Map<number, number>();

  constructor(private readonly model: Pick<ServedModel, 'kvStats' | 'admissionStats' | 'loop'>) {}

  requestStarted(source: RequestSource): void {
    this.started.set(source, (this.started.get(source) ?? 0) + 1);
    this.active++;
  }

  requestEnded(source: RequestSource, outcome: RequestOutcome): void {
    const key = `${source}\0${outcome}`;
    this.ended.set(key, (this.ended.get(key) ?? 0) + 1);
    this.active--;
  }

  /** Counts a streamed event: tokens, Multiverse forks (fork events) and merges (join events). */
  record(event: GenerationEvent): void {
    if (event.type === 'token') this.countToken();
    else if (event.type === 'fork') this.forks++;
    else if (event.type === 'join') this.merges++;
  }

  /** A fork made by server code (the `n` branches of one OpenAI request). */
  forked(): void {
    this.forks++;
  }

  wsConnectionOpened(): void {
    this.wsConnections++;
  }

  wsConnectionClosed(): void {
    this.wsConnections--;
  }

  /** A protocol error sent to a WebSocket client (BAD_MESSAGE, DUPLICATE_ID, ...). */
  wsError(code: string): void {
    this.wsErrors.set(code, (this.wsErrors.get(code) ?? 0) + 1);
  }

  /** Generated tokens per second over the last RATE_WINDOW_S whole seconds. */
  tokensPerSecond(now = Date.now()): number {
    const current = Math.floor(now / 1000);
    let sum = 0;
    for (let s = current - RATE_WINDOW_S; s < current; s++) sum += this.perSecond.get(s) ?? 0;
    return sum / RATE_WINDOW_S;
  }

  /** The Prometheus text page. */
  render(): string {
    const kv = this.model.kvStats();
    const queue = this.model.admissionStats();
    const { loop } = this.model;
    return [
      family('multiverse_requests_total', 'counter', 'Requests started, by source (chat, completions, ws).', [...this.started].map(([source, v]) => [{ source }, v])),
      family(
        'multiverse_requests_finished_total',
        'counter',
        'Requests finished, by source and outcome (done, error, cancelled).',
        [...this.ended].map(([key, v]) => {
          const [source, outcome] = key.split('\0');
          return [{ source, outcome }, v];
        }),
      ),
      family('multiverse_requests_active', 'gauge', 'Requests running now.', [[{}, this.active]]),
      family('multiverse_generated_tokens_total', 'counter', 'Tokens streamed to clients, over all branches.', [[{}, this.tokens]]),
      family('multiverse_tokens_per_second', 'gauge', `Generated tokens per second over the last ${RATE_WINDOW_S} s.`, [[{}, this.tokensPerSecond()]]),
      family('multiverse_forks_total', 'counter', 'Forks: Multiverse forks and the n-way forks of OpenAI requests.', [[{}, this.forks]]),
      family('multiverse_merges_total', 'counter', 'Merges of forked paths back into their parent.', [[{}, this.merges]]),
      family('multiverse_engine_steps_total', 'counter', 'Native engine steps run since the model was loaded.', [[{}, loop.steps]]),
      family('multiverse_engine_tokens_stepped_total', 'counter', 'Tokens the engine ran through the transformer (prefill and decode).', [[{}, loop.tokensStepped]]),
      family('multiverse_live_sequences', 'gauge', 'Native sequences holding KV now.', [[{}, kv.sequences]]),
      family('multiverse_kv_slots_total', 'gauge', 'KV pool size in token slots.', [[{}, kv.totalSlots]]),
      family('multiverse_kv_slots_used', 'gauge', 'KV slots held by live sequences.', [[{}, kv.totalSlots - kv.freeSlots]]),
      family('multiverse_kv_slots_free', 'gauge', 'KV slots free.', [[{}, kv.freeSlots]]),
      family('multiverse_kv_slots_reserved', 'gauge', 'KV slots reserved by admitted requests (their worst case).', [[{}, queue.reservedSlots]]),
      family('multiverse_queue_waiting', 'gauge', 'Requests waiting in the admission queue for KV.', [[{}, queue.queued]]),
      family('multiverse_queue_capacity', 'gauge', 'Most requests the admission queue holds; beyond it requests are refused (429 / OVERLOADED).', [[{}, queue.maxQueued]]),
      family('multiverse_admitted_total', 'counter', 'Requests admitted (given their KV), by whether they waited in the queue.', [
        [{ queued: 'no' }, queue.admitted - queue.waited],
        [{ queued: 'yes' }, queue.waited],
      ]),
      family('multiverse_queue_wait_seconds_total', 'counter', 'Seconds admitted requests spent in the admission queue, summed (divide by multiverse_admitted_total).', [[{}, queue.queueWaitMs / 1000]]),
      family('multiverse_admission_refused_total', 'counter', 'Requests refused because the admission queue was full or they asked not to wait (OVERLOADED).', [[{}, queue.refused]]),
      family('multiverse_kv_growth_waited_total', 'counter', 'Multiverse forks that waited for running requests to end before reserving their paths.', [[{}, queue.growthWaited]]),
      family('multiverse_kv_growth_refused_total', 'counter', 'Reservations a running request could not grow (a Multiverse fork then written sequentially).', [[{}, queue.growthRefused]]),
      family('multiverse_kv_preemptions_total', 'counter', 'Requests preempted because every running request waited to grow: their KV freed, they ran again from their prompt.', [[{}, queue.preemptions]]),
      family('multiverse_ws_connections', 'gauge', 'Open WebSocket connections.', [[{}, this.wsConnections]]),
      family('multiverse_ws_errors_total', 'counter', 'Protocol errors sent to WebSocket clients, by code.', [...this.wsErrors].map(([code, v]) => [{ code }, v])),
    ].join('');
  }

  private countToken(): void {
    this.tokens++;
    const second = Math.floor(Date.now() / 1000);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    // Keep only the window (and the current second).
    for (const s of this.perSecond.keys()) if (s < second - RATE_WINDOW_S) this.perSecond.delete(s);
  }
}

function family(name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): string {
  const lines = samples.map(([labels, value]) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    return `${name}${l.length ? `{${l.join(',')}}` : ''} ${value}\n`;
  });
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${lines.join('')}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
