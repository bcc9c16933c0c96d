/**
 * A stage of the curator: the user message it sends and the validation of the answer. Stages are
 * plain data + functions; ask-stage.ts runs them against the endpoint with one repair attempt.
 */
import type { StageName } from '../prompts.js';

export type Accepted<O> = { value: O } | { problems: string[] };

export interface Stage<I, O> {
  name: StageName;
  /** The user message for `input`. */
  request(input: I): string;
  /** The validated value of a JSON answer, or what is wrong with it (sent back in the repair). */
  accept(answer: Record<string, unknown>, input: I): Accepted<O>;
}

/** A step of the reasoning as the `steps` stage cut it. */
export interface Step {
  id: string;
  text: string;
  summary: string;
  parent: string | null;
}

/** Per step id, the ids of the earlier steps it uses directly. */
export type Uses = ReadonlyMap<string, readonly string[]>;

/** Whether `value` is an array of strings. */
export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
