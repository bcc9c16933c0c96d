/**
 * Stage 1: the reasoning cut into steps with summaries and parents (the tree of the reasoning).
 * Accepted when the steps, in order, reproduce the reasoning verbatim (whitespace aside).
 */
import type { Trace } from '../trace.js';
import type { Stage, Step } from './stage.js';

const normalize = (text: string) => text.replace(/\s+/g, ' ').trim();

function readStep(raw: unknown, i: number, seen: ReadonlySet<string>): Step | string {
  const where = `step ${i + 1}`;
  if (raw === null || typeof raw !== 'object') return `${where} is not an object`;
  const { id, text, summary, parent } = raw as Record<string, unknown>;
  if (typeof id !== 'string' || id === '') return `${where} has no "id" string`;
  if (seen.has(id)) return `${where}: id ${id} is used twice`;
  if (typeof text !== 'string' || text.trim() === '') return `${where} (${id}) has no "text"`;
  if (typeof summary !== 'string' || summary.trim() === '') return `${where} (${id}) has no "summary"`;
  if (parent !== null && parent !== undefined && (typeof parent !== 'string' || !seen.has(parent))) {
    return `${where} (${id}): parent ${JSON.stringify(parent)} is not an earlier step`;
  }
  return { id, text: text.trim(), summary: summary.trim(), parent: typeof parent === 'string' ? parent : null };
}

/** What keeps `steps` from reproducing `reasoning`: lines that no step holds, else the first difference. */
function reproductionProblems(steps: readonly Step[], reasoning: string): string[] {
  const joined = normalize(steps.map((s) => s.text).join(' '));
  const original = normalize(reasoning);
  if (joined === original) return [];
  const missing = reasoning
    .split('\n')
    .map(normalize)
    .filter((line) => line !== '' && !steps.some((s) => normalize(s.text).includes(line)));
  if (missing.length > 0) return missing.map((line) => `the reasoning's line ${JSON.stringify(line)} is in no step`);
  let at = 0;
  while (at < joined.length && joined[at] === original[at]) at++;
  return [`the steps do not reproduce the reasoning verbatim: at character ${at} the reasoning has ${JSON.stringify(original.slice(at, at + 40))} but the steps have ${JSON.stringify(joined.slice(at, at + 40))}`];
}

export const stepsStage: Stage<Trace, Step[]> = {
  name: 'steps',
  request: (trace) => JSON.stringify({ question: trace.question, reasoning: trace.reasoning }),
  accept(answer, trace) {
    if (!Array.isArray(answer.steps) || answer.steps.length === 0) return { problems: ['"steps" must be a non-empty array'] };
    const steps: Step[] = [];
    const seen = new Set<string>();
    for (const [i, raw] of answer.steps.entries()) {
      const step = readStep(raw, i, seen);
      if (typeof step === 'string') return { problems: [step] };
      seen.add(step.id);
      steps.push(step);
    }
    const problems = reproductionProblems(steps, trace.reasoning);
    return problems.length > 0 ? { problems } : { value: steps };
  },
};
