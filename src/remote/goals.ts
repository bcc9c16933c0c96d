/**
 * The Multiverse structure as it shows in remote text. The remote executor asks the server to
 * stop at `</Goal>` (where it may fork) and, in a path, at `</Path>`; servers drop the stop string
 * from the text, so the executor must tell which one ended a request and write it back.
 */
import { parseOutlines } from '../multiverse/outline.js';

/** The stop strings that shape a remote run. */
export type StructureTag = '</Goal>' | '</Path>';

/**
 * Which structure tag ended a request that finished with 'stop'; undefined for an end-of-sequence
 * token. The server's word counts where it gives one (`matched`: vLLM's `stop_reason`, SGLang's
 * `matched_stop`); otherwise the text decides: a goal left open means `</Goal>`, else in a path
 * `</Path>` (an end-of-sequence token inside a path then reads as `</Path>`).
 */
export function endingTag(stops: readonly StructureTag[], matched: string | null | undefined, context: string): StructureTag | undefined {
  if (matched !== undefined) return stops.find((s) => s === matched);
  if (stops.includes('</Goal>') && context.lastIndexOf('<Goal>') > context.lastIndexOf('</Goal>')) return '</Goal>';
  return stops.includes('</Path>') ? '</Path>' : undefined;
}

/** The goal block that `context` ends with, tags included (the fork event's `goal`). */
export function closingGoal(context: string): string {
  return context.slice(context.lastIndexOf('<Goal>'));
}

/** How many goal blocks of `text` have parseable outlines: forks a guard refused when the text was written straight on. */
export function goalsWithOutlines(text: string): number {
  return [...text.matchAll(/<Goal>[\s\S]*?<\/Goal>/g)].filter((m) => parseOutlines(m[0]).length > 0).length;
}
