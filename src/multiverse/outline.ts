/**
 * Reads a goal block's outlines: `<Outline>1: what path 1 does</Outline>`. Labels are `N` or
 * hierarchical `N.M…` (nested blocks); an outline without a parseable label is skipped, and a
 * goal without any is not a fork.
 */

export interface Outline {
  label: string;
  /** The outline's text after the label. */
  text: string;
}

const OUTLINE = /<Outline>\s*(\d+(?:\.\d+)*)\s*:\s*([\s\S]*?)\s*<\/Outline>/g;

/** Outlines of `goalText`, one per distinct label, in label order (1 < 2 < 10, 1.2 < 1.10). */
export function parseOutlines(goalText: string): Outline[] {
  const byLabel = new Map<string, Outline>();
  for (const m of goalText.matchAll(OUTLINE)) {
    if (!byLabel.has(m[1])) byLabel.set(m[1], { label: m[1], text: m[2] });
  }
  return [...byLabel.values()].sort((a, b) => compareLabels(a.label, b.label));
}

function compareLabels(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
