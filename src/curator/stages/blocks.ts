/**
 * Stage 3: the steps arranged into parallel blocks (a plan, plan.ts). Accepted when every step
 * appears once, after every step it uses, each block has two or more non-empty paths, and no
 * path uses (directly or through other steps) a step of a sibling path.
 */
import { planSteps, type PlanItem } from '../plan.js';
import type { Trace } from '../trace.js';
import type { Stage, Step, Uses } from './stage.js';

export interface BlocksInput {
  trace: Trace;
  steps: readonly Step[];
  uses: Uses;
}

/** A plan whose JSON has the wrong shape; the message says where. */
class PlanShapeError extends Error {}

/** A plan item from JSON. @throws PlanShapeError */
function readItem(raw: unknown, where: string): PlanItem {
  if (typeof raw === 'string') return raw;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PlanShapeError(`${where} is neither a step id nor a block`);
  const { paths, conclusion } = raw as Record<string, unknown>;
  if (!Array.isArray(paths) || paths.length < 2) throw new PlanShapeError(`${where}: a block needs "paths" with two or more paths`);
  if (!Array.isArray(conclusion)) throw new PlanShapeError(`${where}: a block needs a "conclusion" list`);
  return {
    paths: paths.map((path: unknown, p) => {
      if (!Array.isArray(path) || path.length === 0) throw new PlanShapeError(`${where}, path ${p + 1}: a path must be a non-empty list`);
      return readItems(path, `${where}, path ${p + 1}`);
    }),
    conclusion: readItems(conclusion, `${where}, conclusion`),
  };
}

function readItems(raw: readonly unknown[], where: string): PlanItem[] {
  return raw.map((r, i) => readItem(r, `${where}, item ${i + 1}`));
}

/** Every step that `id` uses, directly or through other steps. */
function usedClosure(id: string, uses: Uses, memo: Map<string, Set<string>>): Set<string> {
  const known = memo.get(id);
  if (known) return known;
  const all = new Set<string>();
  for (const used of uses.get(id) ?? []) {
    all.add(used);
    for (const u of usedClosure(used, uses, memo)) all.add(u);
  }
  memo.set(id, all);
  return all;
}

function blockProblems(items: readonly PlanItem[], uses: Uses, memo: Map<string, Set<string>>): string[] {
  return items.flatMap((item) => {
    if (typeof item === 'string') return [];
    const pathSteps = item.paths.map(planSteps);
    const problems = pathSteps.flatMap((steps, p) =>
      steps.flatMap((id) => {
        const used = usedClosure(id, uses, memo);
        return pathSteps.flatMap((other, q) => (q === p ? [] : other.filter((o) => used.has(o)).map((o) => `${id} in one path uses ${o} in a sibling path: paths must be independent`)));
      }),
    );
    return [...problems, ...item.paths.flatMap((path) => blockProblems(path, uses, memo)), ...blockProblems(item.conclusion, uses, memo)];
  });
}

export const blocksStage: Stage<BlocksInput, PlanItem[]> = {
  name: 'blocks',
  request: ({ trace, steps, uses }) =>
    JSON.stringify({ question: trace.question, steps: steps.map(({ id, text }) => ({ id, text })), uses: Object.fromEntries(uses) }),
  accept(answer, { steps, uses }) {
    if (!Array.isArray(answer.plan)) return { problems: ['"plan" must be a list of step ids and blocks'] };
    let plan: PlanItem[];
    try {
      plan = readItems(answer.plan, 'plan');
    } catch (err) {
      if (err instanceof PlanShapeError) return { problems: [err.message] };
      throw err;
    }
    const order = planSteps(plan);
    const known = new Set(steps.map((s) => s.id));
    const problems: string[] = [];
    for (const id of order) if (!known.has(id)) problems.push(`the plan names an unknown step ${id}`);
    for (const { id } of steps) {
      const count = order.filter((o) => o === id).length;
      if (count !== 1) problems.push(`step ${id} appears ${count} times in the plan; every step must appear exactly once`);
    }
    const at = new Map(order.map((id, i) => [id, i]));
    for (const id of order) {
      for (const used of uses.get(id) ?? []) if ((at.get(used) ?? Infinity) > (at.get(id) as number)) problems.push(`${id} comes before ${used}, which it uses`);
    }
    if (problems.length > 0) return { problems };
    const independence = blockProblems(plan, uses, new Map());
    return independence.length > 0 ? { problems: independence } : { value: plan };
  },
};
