/**
 * The `@example` blocks of the public operators' doc comments run as written, against the built
 * package and the shipped model, and print exactly the lines their `// Logs:` comment shows.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const OPERATORS = 'src/rx/operators';
const RUN_DIR = path.resolve('test-results/doc-examples');
const PACKAGE_ENTRY = path.resolve('dist/src/index.js');

interface DocExample {
  code: string;
  logs: string[];
}

/** The ```ts blocks of a file's doc comments that end with a `// Logs:` section. */
function docExamples(file: string): DocExample[] {
  const text = fs.readFileSync(file, 'utf8');
  const examples: DocExample[] = [];
  for (const m of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const lines = m[1].split('\n').map((l) => l.replace(/^\s*\*( |$)/, ''));
    const at = lines.findIndex((l) => l.trim() === '// Logs:');
    if (at < 0) continue;
    const logs = lines.slice(at + 1).filter((l) => l.startsWith('// ')).map((l) => l.slice(3));
    examples.push({ code: lines.slice(0, at).join('\n'), logs });
  }
  return examples;
}

/** Runs an example as an ES module importing the built package; returns its stdout lines. */
function run(example: DocExample, name: string): string[] {
  const code = example.code.replaceAll("from 'multiverse-rx'", `from ${JSON.stringify(PACKAGE_ENTRY)}`);
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const file = path.join(RUN_DIR, `${name}.mjs`);
  fs.writeFileSync(file, js);
  return execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 }).trimEnd().split('\n');
}

describe('doc examples of the operators', () => {
  const files = fs.readdirSync(OPERATORS).filter((f) => f.endsWith('.ts'));
  it('every operator documents a runnable example with its output', () => {
    expect(files.filter((f) => docExamples(path.join(OPERATORS, f)).length === 0)).toEqual([]);
  });
  for (const f of files) {
    it(`${f}: prints what its // Logs: says`, () => {
      docExamples(path.join(OPERATORS, f)).forEach((example, i) => {
        expect(run(example, `${path.basename(f, '.ts')}-${i}`)).toEqual(example.logs);
      });
    });
  }
});
