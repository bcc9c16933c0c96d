/**
 * Stage 4: each block's goal (one outline per path) and the optional sentence that opens its
 * conclusion. Accepted when every block and path has its text, on one line, without tags.
 */
import { stripLabel } from '../numbers.js';
import { placedBlocks, planSteps, type BlockText, type PlanItem } from '../plan.js';
import type { Trace } from '../trace.js';
import type { Stage, Step } from './stage.js';

export interface OutlinesInput {
  trace: Trace;
  steps: readonly Step[];
  plan: readonly PlanItem[];
}

const TAG = /<\/?(?:Parallel|Goal|Outline|Path|Conclusion|Think)>/;

export const outlinesStage: Stage<OutlinesInput, BlockText[]> = {
  name: 'outlines',
  request({ trace, steps, plan }) {
    const text = new Map(steps.map((s) => [s.id, stripLabel(s.text)]));
    const show = (items: readonly PlanItem[]) =>
      items.map((item) => (typeof item === 'string' ? text.get(item) : `(a block: ${planSteps([item]).map((id) => text.get(id)).join(' | ')})`)).join('\n');
    const blocks = placedBlocks(plan).map(({ block, labels }) => ({
      paths: block.paths.map((path, i) => ({ label: labels[i], text: show(path) })),
      conclusion: show(block.conclusion),
    }));
    return JSON.stringify({ question: trace.question, blocks });
  },
  accept(answer, { plan }) {
    const placed = placedBlocks(plan);
    const blocks = answer.blocks;
    if (!Array.isArray(blocks) || blocks.length !== placed.length) return { problems: [`"blocks" must list ${placed.length} block(s), one per block, in order`] };
    const problems: string[] = [];
    const texts: BlockText[] = blocks.map((raw: unknown, b) => {
      const { outlines, conclusion } = (raw ?? {}) as Record<string, unknown>;
      const paths = placed[b].block.paths.length;
      const where = `block ${b + 1}`;
      if (!Array.isArray(outlines) || outlines.length !== paths) {
        problems.push(`${where} needs "outlines" with ${paths} entries, one per path`);
        return { outlines: [], conclusion: '' };
      }
      outlines.forEach((o: unknown, i) => {
        if (typeof o !== 'string' || o.trim() === '' || o.includes('\n') || TAG.test(o)) problems.push(`${where}, outline ${i + 1} must be one non-empty line without tags`);
      });
      if (typeof conclusion !== 'string' || TAG.test(conclusion)) problems.push(`${where}: "conclusion" must be a string without tags ("" for none)`);
      return { outlines: outlines.map((o) => String(o).trim()), conclusion: String(conclusion ?? '').trim() };
    });
    return problems.length > 0 ? { problems } : { value: texts };
  },
};
