/**
 * Every prompt a user meets first — in the README, docs/, the typedoc comments of src/, examples/
 * and the viewer's default — is one the shipped model answers correctly. The prompts are read from
 * those files, so the docs cannot drift away from what the model can do; the expected answer comes
 * from evaluating the expression here, not from the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { loadModel, shippedModelDir, type Model } from '../src/index.js';
import { evaluateSum } from './support/evaluate-sum.js';

/** Files whose prompts a user copies; src/tasks/ is left out (it builds prompts from templates). */
function documentedFiles(): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? walk(p) : [p];
    });
  const src = walk('src').filter((f) => f.endsWith('.ts') && !f.startsWith(path.join('src', 'tasks')));
  const docs = walk('docs').filter((f) => f.endsWith('.md'));
  const examples = walk('examples').filter((f) => f.endsWith('.ts'));
  return ['README.md', 'viewer/index.html', ...docs, ...examples, ...src];
}

/** Literal prompts handed to the API, the CLI, the wire protocol or the viewer. */
const PROMPT_PATTERNS = [
  /\.(?:events|generate|session|complete|stream|reply|send)\(\s*'([^']+)'/g,
  /content: '([^']+)'/g,
  /multiverse run "([^"]+)"/g,
  /"input":"([^"]+)"/g,
  /<textarea[^>]*>([^<]+)<\/textarea>/g,
  /\(model, '([^']+)'/g,
  /prompt: '([^']+)'/g,
];

function documentedPrompts(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of documentedFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    for (const pattern of PROMPT_PATTERNS) {
      for (const m of text.matchAll(pattern)) found.set(m[1], [...(found.get(m[1]) ?? []), file]);
    }
  }
  return found;
}

describe('documented prompts', () => {
  const prompts = documentedPrompts();
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(shippedModelDir(), { kvSlots: 4096, contextLength: 1024 });
  });
  afterAll(() => model.dispose());

  it('finds the prompts of the README, the docs, the examples and the viewer', () => {
    const files = new Set([...prompts.values()].flat());
    for (const f of ['README.md', 'viewer/index.html', 'docs/api.md', 'docs/reactive-api.md', 'examples/self-consistency.ts']) expect(files).toContain(f);
  });

  it('are all sums of products, the one task the shipped model knows', () => {
    const outside = [...prompts].filter(([p]) => !/^Compute [\d*+()]+$/.test(p)).map(([p, files]) => `${JSON.stringify(p)} in ${files.join(', ')}`);
    expect(outside).toEqual([]);
  });

  it('are answered correctly by the shipped model', async () => {
    const wrong: string[] = [];
    for (const prompt of [...prompts.keys()].filter((p) => p.startsWith('Compute '))) {
      const expected = evaluateSum(prompt.slice('Compute '.length));
      const events = await lastValueFrom(model.events(prompt, { temperature: 0, maxTokens: 512 }).pipe(toArray()));
      const text = events.flatMap((e) => (e.type === 'token' ? [e.text] : [])).join('');
      const answer = /Answer: (\d+)/.exec(text)?.[1];
      if (answer !== String(expected)) wrong.push(`${prompt}: expected ${expected}, the model wrote ${JSON.stringify(text.slice(-40))}`);
    }
    expect(wrong).toEqual([]);
  });
});
