/**
 * Runs one stage against the endpoint: the prompt as the system message, the stage's request as
 * the user message, the answer parsed and validated; an answer that fails goes back once with its
 * problems (the repair), and a second failure fails the stage.
 */
import type { ChatMessage } from '../model/tokenizer.js';
import type { ChatClient } from './chat-client.js';
import { jsonObject } from './json-answer.js';
import { repairMessage, type Prompts } from './prompts.js';
import type { Stage } from './stages/stage.js';

export type StageResult<O> =
  | { ok: true; value: O; repaired: boolean; messages: ChatMessage[] }
  | { ok: false; problems: string[] };

/** The first messages of `stage` for `input`: its prompt and its request. */
export function stageMessages<I, O>(prompts: Prompts, stage: Stage<I, O>, input: I): ChatMessage[] {
  return [
    { role: 'system', content: prompts.stages[stage.name].text },
    { role: 'user', content: stage.request(input) },
  ];
}

/**
 * Asks `stage` about `input`, continuing `start` (by default the stage's first messages) — a
 * conversation that ends with a user message. On success, `messages` ends with the accepted answer.
 */
export async function askStage<I, O>(
  chat: ChatClient,
  prompts: Prompts,
  stage: Stage<I, O>,
  input: I,
  start: readonly ChatMessage[] = stageMessages(prompts, stage, input),
): Promise<StageResult<O>> {
  const messages = [...start];
  for (let attempt = 0; ; attempt++) {
    const reply = await chat.complete(messages);
    messages.push({ role: 'assistant', content: reply });
    const parsed = jsonObject(reply);
    const accepted = 'value' in parsed ? stage.accept(parsed.value, input) : parsed;
    if ('value' in accepted) return { ok: true, value: accepted.value, repaired: attempt > 0 || start.length > 2, messages };
    if (attempt === 1) return { ok: false, problems: accepted.problems };
    messages.push({ role: 'user', content: repairMessage(prompts, accepted.problems) });
  }
}
