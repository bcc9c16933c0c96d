/**
 * The stats panel: a live line while a request streams (tokens so far, live paths, seconds), and
 * at the end the request's numbers: # parallel (total tokens / critical path, the paper's
 * measure), tokens/s over the wall clock, critical path, total tokens, forks.
 */
import type { WireDoneEvent } from '../../src/protocol/index.js';
import { el } from './dom.js';

export class StatsPanel {
  constructor(private readonly panel: HTMLElement) {}

  /** One line while streaming. */
  progress(tokens: number, livePaths: number, ms: number): void {
    const paths = livePaths > 0 ? ` · ${livePaths} paths decoding` : '';
    this.panel.replaceChildren(el('p', 'live-line', `streaming · ${tokens} tokens${paths} · ${(ms / 1000).toFixed(1)} s`));
  }

  /** The finished request's numbers, one card each. */
  done(event: WireDoneEvent, ms: number): void {
    const { usage, stats } = event;
    const cards: [key: string, label: string, value: string][] = [
      ['parallel', '# parallel', stats.parallelism.toFixed(2)],
      ['tokens-per-second', 'tokens/s', (usage.completionTokens / (ms / 1000)).toFixed(1)],
      ['critical-path', 'critical path', `${usage.criticalPathTokens}`],
      ['total-tokens', 'total tokens', `${usage.completionTokens}`],
      ['forks', 'forks', `${stats.forks}`],
      ['finish', 'finish', event.limit ? `${event.finishReason} (${event.limit})` : event.finishReason],
    ];
    this.panel.replaceChildren(
      ...cards.map(([key, label, value]) => {
        const card = el('div', 'stat');
        card.dataset.stat = key;
        card.append(el('span', 'value', value), el('span', 'name', label));
        return card;
      }),
      el('p', 'stat-note', `${usage.promptTokens} prompt tokens · ${(ms / 1000).toFixed(2)} s · seed ${event.seed}`),
    );
  }

  clear(): void {
    this.panel.replaceChildren();
  }
}
