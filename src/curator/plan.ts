/**
 * The plan of a converted trace (the `blocks` stage's answer) and its rendering into Multiverse
 * text. A plan is a sequence of items; an item is a step (by id) or a parallel block of paths, each
 * path itself a sequence of items, and a conclusion sequence. Rendering follows the layout our own
 * models use (src/tasks/arith/convert.ts): no text between `</Goal>`, `<Path>`, `</Path>` and
 * `<Conclusion>`; a block follows the text before it directly, and whatever follows a block starts
 * on a new line; steps join with `\n`. A path opens with its label (`2.1: `), and a step's own
 * leading label is dropped inside a block, where the block's labels replace it.
 */
import { stripLabel } from './numbers.js';

export interface PlanBlock {
  paths: PlanItem[][];
  conclusion: PlanItem[];
}

export type PlanItem = string | PlanBlock;

/** A block as it appears in the text: numbered by its `<Parallel>`, with its path labels and depth (1 = top level). */
export interface PlacedBlock {
  block: PlanBlock;
  labels: string[];
  depth: number;
}

/** The goal and conclusion text of one block (the `outlines` stage's answer). */
export interface BlockText {
  outlines: string[];
  conclusion: string;
}

/** Every block of `plan` in text order, with its labels and depth. */
export function placedBlocks(plan: readonly PlanItem[]): PlacedBlock[] {
  const placed: PlacedBlock[] = [];
  const visit = (items: readonly PlanItem[], prefix: string | undefined, depth: number): void => {
    for (const item of items) {
      if (typeof item === 'string') continue;
      const labels = item.paths.map((_, i) => (prefix === undefined ? `${i + 1}` : `${prefix}.${i + 1}`));
      placed.push({ block: item, labels, depth });
      item.paths.forEach((path, i) => visit(path, labels[i], depth + 1));
      visit(item.conclusion, prefix, depth + 1);
    }
  };
  visit(plan, undefined, 1);
  return placed;
}

/** Every step id of `items`, in text order. */
export function planSteps(items: readonly PlanItem[]): string[] {
  return items.flatMap((item) => (typeof item === 'string' ? [item] : [...item.paths.flatMap(planSteps), ...planSteps(item.conclusion)]));
}

type Segment = { kind: 'text' | 'block'; text: string };

function join(segments: readonly Segment[]): string {
  return segments.map((s, i) => (i === 0 || s.kind === 'block' ? s.text : `\n${s.text}`)).join('');
}

/**
 * The Multiverse text of `plan`, with each step's text from `stepText` and each block's goal and
 * conclusion text from `blockTexts` (in text order, as placedBlocks numbers them).
 */
export function renderPlan(plan: readonly PlanItem[], stepText: ReadonlyMap<string, string>, blockTexts: readonly BlockText[]): string {
  let next = 0;
  const segments = (items: readonly PlanItem[], prefix: string | undefined, inBlock: boolean): Segment[] =>
    items.map((item) => {
      if (typeof item !== 'string') return { kind: 'block', text: block(item, prefix) };
      const text = stepText.get(item) as string;
      return { kind: 'text', text: inBlock ? stripLabel(text) : text };
    });
  const block = (b: PlanBlock, prefix: string | undefined): string => {
    const texts = blockTexts[next++];
    const labels = b.paths.map((_, i) => (prefix === undefined ? `${i + 1}` : `${prefix}.${i + 1}`));
    const goal = labels.map((label, i) => `<Outline>${label}: ${texts.outlines[i]}</Outline>`).join('');
    const paths = b.paths.map((path, i) => `<Path>${labels[i]}: ${join(segments(path, labels[i], true))}</Path>`).join('');
    const lead: Segment[] = texts.conclusion === '' ? [] : [{ kind: 'text', text: texts.conclusion }];
    const conclusion = join([...lead, ...segments(b.conclusion, prefix, true)]);
    return `<Parallel><Goal>${goal}</Goal>${paths}<Conclusion>${conclusion}</Conclusion></Parallel>`;
  };
  return join(segments(plan, undefined, false));
}
