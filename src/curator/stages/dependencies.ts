/**
 * Stage 2: what each step uses. Accepted when every step is listed and uses only earlier steps.
 * Whether the uses are true is not checked here: a missed use surfaces in verification, where
 * a path mentioning a sibling's result is flagged.
 */
import type { Trace } from '../trace.js';
import { isStringArray, type Stage, type Step, type Uses } from './stage.js';

export interface DependenciesInput {
  trace: Trace;
  steps: readonly Step[];
}

export const dependenciesStage: Stage<DependenciesInput, Uses> = {
  name: 'dependencies',
  request: ({ trace, steps }) => JSON.stringify({ question: trace.question, steps }),
  accept(answer, { steps }) {
    const uses = answer.uses;
    if (uses === null || typeof uses !== 'object' || Array.isArray(uses)) return { problems: ['"uses" must be an object from step id to a list of step ids'] };
    const order = new Map(steps.map((s, i) => [s.id, i]));
    const problems: string[] = [];
    const result = new Map<string, string[]>();
    for (const key of Object.keys(uses)) if (!order.has(key)) problems.push(`"uses" names an unknown step ${key}`);
    for (const step of steps) {
      const list = (uses as Record<string, unknown>)[step.id];
      if (!isStringArray(list)) {
        problems.push(`"uses" needs a list of step ids for ${step.id}`);
        continue;
      }
      for (const used of list) {
        const at = order.get(used);
        if (at === undefined || at >= (order.get(step.id) as number)) problems.push(`${step.id} uses ${used}, which is not an earlier step`);
      }
      result.set(step.id, list);
    }
    return problems.length > 0 ? { problems } : { value: result };
  },
};
