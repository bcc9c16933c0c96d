// The folder tree is the architecture: every import under src/ points down the layers of
// docs/architecture.md, and no files import each other in a circle.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Each top folder of src/ and its layer; a file may import only its own rank or a lower one. */
const RANKS: Record<string, number> = {
  native: 0,
  model: 1,
  hub: 1,
  engine: 2,
  multiverse: 3,
  rx: 4,
  facade: 5,
  protocol: 5,
  server: 6,
  client: 6,
  remote: 6,
  'ai-sdk': 6,
  '.': 6, // src/index.ts, the library entry point
  cli: 7,
};
/** Tools beside the stack: they may use ranks up to 6 and each other; only cli/ may use them. */
const SIDE = new Set(['tasks', 'curator', 'testkit']);
const SIDE_MAX_RANK = 6;
const SIDE_USERS = new Set(['cli']);

const SRC = path.resolve('src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Relative module specifiers of one file: static imports and re-exports (type-only too), `import()` with a literal, `import('x').T` types. */
function importSpecifiers(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) found.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.startsWith('.'));
}

type Graph = Map<string, string[]>;

/** src-relative file → src-relative files it imports. */
function importGraph(): Graph {
  const files = tsFiles(SRC).map((f) => path.relative(SRC, f));
  const known = new Set(files);
  const graph: Graph = new Map();
  for (const file of files) {
    const targets = new Set<string>();
    for (const spec of importSpecifiers(file, readFileSync(path.join(SRC, file), 'utf8'))) {
      const target = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
      if (known.has(target)) targets.add(target);
      else if (!/\.(json|node)$/.test(spec)) throw new Error(`${file}: import ${spec} resolves to no file under src/`);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

function folderOf(file: string): string {
  const first = file.split(path.sep)[0]!;
  return first === file ? '.' : first;
}

/** Why `from` may not import `to`, or undefined when the arrow points down (or sideways). */
function layerViolation(from: string, to: string): string | undefined {
  const [a, b] = [folderOf(from), folderOf(to)];
  if (a === b) return undefined;
  if (SIDE.has(b)) return SIDE.has(a) || SIDE_USERS.has(a) ? undefined : `${b}/ is a side tool`;
  const target = RANKS[b];
  if (target === undefined) return `${b}/ has no rank in the table`;
  const own = SIDE.has(a) ? SIDE_MAX_RANK : RANKS[a];
  if (own === undefined) return `${a}/ has no rank in the table`;
  return target > own ? `rank ${target} above rank ${own}` : undefined;
}

/** Strongly connected components of more than one file (Tarjan), each sorted. */
function circles(graph: Graph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import graph of src/', () => {
  const graph = importGraph();

  it('reads imports of every kind', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "export type * from './d.js';",
      "const e = await import('./e.js');",
      "let f: import('./f.js').F;",
      "import { readFileSync } from 'node:fs';",
      "// import { g } from './g.js';",
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js', './f.js']);
  });

  it('finds a circle and an upward arrow in a made-up graph', () => {
    const made: Graph = new Map([
      ['engine/a.ts', ['engine/b.ts']],
      ['engine/b.ts', ['rx/c.ts']],
      ['rx/c.ts', ['engine/a.ts']],
      ['model/d.ts', []],
    ]);
    expect(circles(made)).toEqual([['engine/a.ts', 'engine/b.ts', 'rx/c.ts']]);
    expect(layerViolation('engine/b.ts', 'rx/c.ts')).toBe('rank 4 above rank 2');
    expect(layerViolation('rx/c.ts', 'engine/a.ts')).toBeUndefined();
    expect(layerViolation('server/http/x.ts', 'server/ws/y.ts')).toBeUndefined();
    expect(layerViolation('rx/c.ts', 'testkit/t.ts')).toBe('testkit/ is a side tool');
    expect(layerViolation('cli/c.ts', 'curator/t.ts')).toBeUndefined();
    expect(layerViolation('curator/t.ts', 'cli/c.ts')).toBe('rank 7 above rank 6');
  });

  it('has every top folder in the rank table', () => {
    const folders = new Set([...graph.keys()].map(folderOf));
    const unranked = [...folders].filter((f) => RANKS[f] === undefined && !SIDE.has(f));
    expect(unranked).toEqual([]);
  });

  it('has no import circle', () => {
    expect(circles(graph).map((c) => c.join(' <-> '))).toEqual([]);
  });

  it('imports only from its own layer or a lower one', () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const why = layerViolation(from, to);
        if (why !== undefined) upward.push(`${from} -> ${to} (${why})`);
      }
    }
    expect(upward).toEqual([]);
  });
});
