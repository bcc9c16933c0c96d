/**
 * `--top-logprobs K` in text mode: after the run, each generated token with its logprob and the K
 * most likely alternatives at that step, as text (ids only mean something to a tokenizer).
 */
import type { GenerationEvent } from '../rx/events.js';

export class TopLogprobsTable {
  private readonly rows: string[] = [];

  constructor(private readonly textOf: (tokenId: number) => string) {}

  add(e: GenerationEvent): void {
    if (e.type !== 'token' || !e.topLogprobs) return;
    this.rows.push(`${e.branch.padEnd(8)} ${JSON.stringify(e.text || this.textOf(e.tokenId)).padEnd(14)} ${e.logprob.toFixed(3).padStart(8)}   ${formatTopLogprobs(e.topLogprobs, this.textOf)}`);
  }

  /** The table, headed, one token a line in the order the tokens were generated. */
  render(): string {
    return `top logprobs (branch, token, logprob, alternatives):\n${this.rows.join('\n')}\n`;
  }
}

/** `"37" -0.001  "12" -7.210`: each alternative's text and logprob, most likely first. */
export function formatTopLogprobs(top: Record<number, number>, textOf: (tokenId: number) => string): string {
  return Object.entries(top)
    .sort(([, a], [, b]) => b - a)
    .map(([id, lp]) => `${JSON.stringify(textOf(Number(id)))} ${lp.toFixed(3)}`)
    .join('  ');
}
