/**
 * The curator's prompts: Markdown files in prompts/curator/ (shipped with the package), one per
 * stage plus the repair message. Each starts with `version: NAME/N`; the versions go into every
 * output record, so data made with different prompts can be told apart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CurateError } from './errors.js';

export type StageName = 'steps' | 'dependencies' | 'blocks' | 'outlines';

export interface Prompt {
  version: string;
  text: string;
}

export interface Prompts {
  stages: Record<StageName, Prompt>;
  /** The message that sends problems back; `{{problems}}` stands for them. */
  repair: Prompt;
}

export const STAGE_NAMES: readonly StageName[] = ['steps', 'dependencies', 'blocks', 'outlines'];

function readPrompt(dir: string, name: string): Prompt {
  const file = path.join(dir, `${name}.md`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CurateError('PROMPT_ERROR', `${file}: prompt file missing`);
  }
  const version = /^version: (\S+)\s*$/m.exec(text)?.[1];
  if (version === undefined) throw new CurateError('PROMPT_ERROR', `${file}: no "version: NAME/N" line`);
  return { version, text };
}

/** Reads the prompts of `dir` (prompts/curator/ of the package). @throws CurateError PROMPT_ERROR. */
export function loadPrompts(dir: string): Prompts {
  const stages = Object.fromEntries(STAGE_NAMES.map((name) => [name, readPrompt(dir, name)])) as Record<StageName, Prompt>;
  return { stages, repair: readPrompt(dir, 'repair') };
}

/** The repair message for `problems`. */
export function repairMessage(prompts: Prompts, problems: readonly string[]): string {
  const body = prompts.repair.text.replace(/^version: .*\n+/m, '');
  return body.replace('{{problems}}', problems.map((p) => `- ${p}`).join('\n'));
}
