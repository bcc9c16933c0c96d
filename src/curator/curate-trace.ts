/**
 * One trace through the five stages: steps, dependencies, blocks, outlines (each validated, with
 * one repair), then verification (verify.ts). A conversion that fails verification gets one repair
 * round: the blocks stage is shown the problems and asked again, the outlines are written for its
 * new plan, and the result is verified again; a second failure rejects the trace.
 */
import type { ChatClient } from './chat-client.js';
import { askStage } from './ask-stage.js';
import { CurateError } from './errors.js';
import { renderPlan, type PlanItem } from './plan.js';
import { repairMessage, type Prompts, type StageName } from './prompts.js';
import { blocksStage } from './stages/blocks.js';
import { dependenciesStage } from './stages/dependencies.js';
import { outlinesStage } from './stages/outlines.js';
import type { Step } from './stages/stage.js';
import { stepsStage } from './stages/steps.js';
import type { Trace } from './trace.js';
import { verifyConversion, type CheckKind } from './verify.js';

export type TraceOutcome =
  | { status: 'converted' | 'repaired'; text: string; plan: PlanItem[] }
  | { status: 'rejected'; stage: StageName | `verify/${CheckKind}` | 'context'; problems: string[] };

async function outlineAndVerify(chat: ChatClient, prompts: Prompts, trace: Trace, steps: readonly Step[], plan: PlanItem[]) {
  const outlines = await askStage(chat, prompts, outlinesStage, { trace, steps, plan });
  if (!outlines.ok) return outlines;
  const text = renderPlan(plan, new Map(steps.map((s) => [s.id, s.text])), outlines.value);
  return { ok: true as const, text, repaired: outlines.repaired, problems: verifyConversion(trace, text) };
}

/**
 * Converts `trace`, or says at which stage and why it was rejected (`context` when a request does
 * not fit the model's context). @throws CurateError when the endpoint fails for good.
 */
export async function curateTrace(chat: ChatClient, prompts: Prompts, trace: Trace): Promise<TraceOutcome> {
  try {
    return await runStages(chat, prompts, trace);
  } catch (err) {
    if (err instanceof CurateError && err.code === 'CONTEXT_OVERFLOW') return { status: 'rejected', stage: 'context', problems: [err.message] };
    throw err;
  }
}

async function runStages(chat: ChatClient, prompts: Prompts, trace: Trace): Promise<TraceOutcome> {
  const steps = await askStage(chat, prompts, stepsStage, trace);
  if (!steps.ok) return { status: 'rejected', stage: 'steps', problems: steps.problems };
  const uses = await askStage(chat, prompts, dependenciesStage, { trace, steps: steps.value });
  if (!uses.ok) return { status: 'rejected', stage: 'dependencies', problems: uses.problems };
  const blocksInput = { trace, steps: steps.value, uses: uses.value };
  let blocks = await askStage(chat, prompts, blocksStage, blocksInput);
  if (!blocks.ok) return { status: 'rejected', stage: 'blocks', problems: blocks.problems };
  let result = await outlineAndVerify(chat, prompts, trace, steps.value, blocks.value);
  if (!result.ok) return { status: 'rejected', stage: 'outlines', problems: result.problems };
  let repaired = steps.repaired || uses.repaired || blocks.repaired || result.repaired;

  if (result.problems.length > 0) {
    const problems = result.problems.map((p) => p.message);
    blocks = await askStage(chat, prompts, blocksStage, blocksInput, [...blocks.messages, { role: 'user', content: repairMessage(prompts, problems) }]);
    if (!blocks.ok) return { status: 'rejected', stage: 'blocks', problems: blocks.problems };
    result = await outlineAndVerify(chat, prompts, trace, steps.value, blocks.value);
    if (!result.ok) return { status: 'rejected', stage: 'outlines', problems: result.problems };
    if (result.problems.length > 0) {
      return { status: 'rejected', stage: `verify/${result.problems[0].check}`, problems: result.problems.map((p) => p.message) };
    }
    repaired = true;
  }
  return { status: repaired ? 'repaired' : 'converted', text: result.text, plan: blocks.value };
}
