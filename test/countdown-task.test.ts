/**
 * The Countdown task: seeded problems, the written search (every step a true equation, every
 * subtree tried), the Multiverse conversion (same steps as the sequential twin, valid layout, one
 * path per number played last and one per first move), the answer checker, splits, and the token
 * statistics the format was designed for. Oracles: JavaScript's own arithmetic on the written
 * equations and expressions, and a brute-force enumeration of every expression over the numbers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { multiverseLayout } from '../src/multiverse/attention.js';
import { resolveTagIds, type MultiverseTagIds } from '../src/multiverse/tags.js';
import { SPLIT_SEED_BASE } from '../src/tasks/arith/splits.js';
import { parseAnswer, sequentialChain } from '../src/tasks/countdown/chain.js';
import { solves } from '../src/tasks/countdown/check.js';
import { exampleRecord, solutionText } from '../src/tasks/countdown/export.js';
import { generateProblem, problemText, type Problem } from '../src/tasks/countdown/problem.js';
import { buildSplits, heldOutProblems } from '../src/tasks/countdown/splits.js';
import { tokenStats } from '../src/tasks/token-stats.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';

const problems = Array.from({ length: 400 }, (_, i) => generateProblem(SPLIT_SEED_BASE.test + i));

/** JavaScript's value of an arithmetic text made of digits, + - * / and brackets only. */
function jsValue(text: string): number {
  if (!/^[\d+\-*/() ]+$/.test(text)) throw new Error(`not arithmetic: ${text}`);
  return Function(`return (${text});`)() as number;
}

/**
 * Every value reachable from `numbers` using each at most once, every intermediate result a positive
 * integer: the brute-force oracle (all subsets, all orders, all bracketings).
 */
function reachable(numbers: readonly number[]): Set<number> {
  const values = new Set<number>();
  const walk = (pool: number[]) => {
    for (const v of pool) values.add(v);
    for (let i = 0; i < pool.length; i++) {
      for (let j = 0; j < pool.length; j++) {
        if (i === j) continue;
        const rest = pool.filter((_, k) => k !== i && k !== j);
        const [x, y] = [pool[i], pool[j]];
        for (const v of [x + y, x - y, x * y, x / y]) if (Number.isInteger(v) && v > 0) walk([...rest, v]);
      }
    }
  };
  walk([...numbers]);
  return values;
}

/** The `label: steps` lines of the first moves (labels N.M), from either format. */
function moveLines(text: string): string[] {
  return Array.from(text.matchAll(/(?:^|<Path>)(\d+\.\d+: [^<\n]*)/gm), (m) => m[1]);
}

/** A move line's equations and, when it hits, the expression it reports after `so`. */
function splitMoveLine(line: string): { steps: string[]; expression: string | undefined } {
  const [moves, expression] = line.replace(/^[\d.]+: /, '').split(' so ');
  return { steps: moves.split(' '), expression };
}

let root: string;
let tokenizer: Tokenizer;
let tagIds: MultiverseTagIds;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-countdown-'));
  writeTokenizerFiles(root, buildTokenizerFiles(TINY.bpeVocabSize));
  tokenizer = await loadTokenizer(root);
  tagIds = resolveTagIds((text) => tokenizer.tokenId(text)) as MultiverseTagIds;
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('Countdown problems', () => {
  it('are a pure function of the seed: three distinct numbers from 2 to 9 and a reachable target', () => {
    expect(problems.slice(0, 20)).toEqual(problems.slice(0, 20).map((p) => generateProblem(p.seed)));
    for (const p of problems) {
      expect(p.numbers).toHaveLength(3);
      expect(p.numbers.every((n) => n >= 2 && n <= 9)).toBe(true);
      expect(new Set(p.numbers).size).toBe(3);
      expect(reachable(p.numbers).has(p.target)).toBe(true);
    }
    expect(new Set(problems.map(problemText)).size).toBeGreaterThan(350);
  });

  it('read as the question', () => {
    expect(problemText({ seed: 0, numbers: [4, 5, 3], target: 60 })).toBe('Make 60 from 4 5 3');
  });
});

describe('the written search', () => {
  const example: Problem = { seed: 0, numbers: [7, 2, 9], target: 14 };

  it('writes the documented solution: one subtree per number played last, every first move, stops at a hit', () => {
    expect(sequentialChain(example)).toBe(
      [
        '1: 7',
        '1.1: 9+2=11 11+7=18 11-7=4 11*7=10*7+1*7=70+7=77',
        '1.2: 9-2=7 7+7=14 so (9-2)+7',
        '1.3: 9*2=18 18+7=25 18-7=11 18*7=10*7+8*7=70+56=126',
        '1: (9-2)+7',
        '2: 2',
        '2.1: 9+7=16 16+2=18 16-2=14 so (9+7)-2',
        '2.2: 9-7=2 2+2=4 2*2=4 2/2=1',
        '2.3: 9*7=63 63+2=65 63-2=61 63*2=60*2+3*2=120+6=126',
        '2: (9+7)-2',
        '3: 9',
        '3.1: 7+2=9 9+9=18 9*9=81 9/9=1',
        '3.2: 7-2=5 5+9=14 so (7-2)+9',
        '3.3: 7*2=14 14+9=23 14-9=5 14*9=10*9+4*9=90+36=126',
        '3: (7-2)+9',
        '(9-2)+7',
        'Answer: (9-2)+7',
      ].join('\n'),
    );
  });

  it('converts to nested blocks: a path per subtree, a path per first move inside it', () => {
    const mv = solutionText(example, 'multiverse');
    expect(mv.startsWith('<Parallel><Goal><Outline>1: 7</Outline><Outline>2: 2</Outline><Outline>3: 9</Outline></Goal>' +
      '<Path>1: 7<Parallel><Goal><Outline>1.1: 9+2</Outline><Outline>1.2: 9-2</Outline><Outline>1.3: 9*2</Outline></Goal>' +
      '<Path>1.1: 9+2=11 11+7=18 11-7=4 11*7=10*7+1*7=70+7=77</Path><Path>1.2: 9-2=7 7+7=14 so (9-2)+7</Path>')).toBe(true);
    expect(mv.endsWith('<Conclusion>(7-2)+9</Conclusion></Parallel></Path><Conclusion>(9-2)+7</Conclusion></Parallel>\nAnswer: (9-2)+7')).toBe(true);
  });

  it('writes only true equations, and reports an expression that reaches the target with each number at most once', () => {
    for (const p of problems) {
      const chain = sequentialChain(p);
      for (const line of moveLines(chain)) {
        const { steps, expression } = splitMoveLine(line);
        for (const step of steps) {
          const sides = step.split('=').map(jsValue);
          expect(new Set(sides).size, step).toBe(1);
        }
        // A hit reports the expression of its own two moves: the finishing move with the first
        // move's bracketed text in place of its result.
        if (expression !== undefined) {
          const [firstMove, firstResult] = steps[0].split('=');
          expect(jsValue(expression), line).toBe(p.target);
          expect(solves(p, expression), line).toBe(true);
          expect(expression.replace(`(${firstMove})`, firstResult), line).toBe(steps.at(-1)?.split('=')[0]);
        }
      }
      const answer = parseAnswer(chain) as string;
      expect(jsValue(answer)).toBe(p.target);
      const used = (answer.match(/\d+/g) ?? []).map(Number).sort();
      const left = [...p.numbers];
      for (const n of used) {
        expect(left).toContain(n);
        left.splice(left.indexOf(n), 1);
      }
    }
  });

  it('tries one subtree per distinct number and every first move of its pair, and stops a line only at the target', () => {
    for (const p of problems) {
      const chain = sequentialChain(p);
      const subtrees = chain.split('\n').filter((l) => /^\d+: \d+$/.test(l));
      expect(subtrees.map((l) => Number(l.split(': ')[1]))).toEqual([...new Set(p.numbers)]);
      const moves = moveLines(chain);
      const hits: string[] = [];
      for (const line of moves) {
        const { steps, expression } = splitMoveLine(line);
        const results = steps.map((step) => jsValue(step.split('=').at(-1) as string));
        // Only the last result of a line may be the target (the search stops at its first hit), and
        // a line reports an expression exactly when it ends there.
        expect(results.slice(1, -1)).not.toContain(p.target);
        expect(expression !== undefined, line).toBe(results.length > 1 && results.at(-1) === p.target);
        if (expression !== undefined) hits.push(expression);
      }
      // The findings: each subtree's first hit (or `no`), then the search's, which the answer repeats.
      const lines = chain.split('\n');
      subtrees.forEach((_, i) => {
        const own = moves.filter((l) => l.startsWith(`${i + 1}.`)).map((l) => splitMoveLine(l).expression);
        expect(lines).toContain(`${i + 1}: ${own.find((e) => e !== undefined) ?? 'no'}`);
      });
      expect(lines.at(-2)).toBe(hits[0]);
      expect(parseAnswer(chain)).toBe(hits[0]);
    }
  });
});

describe('the Multiverse conversion', () => {
  it('holds exactly the sequential steps, and every record passes the layout with its positions and spans', () => {
    for (const p of problems.slice(0, 150)) {
      const mv = solutionText(p, 'multiverse');
      const ar = solutionText(p, 'sequential');
      expect(moveLines(mv)).toEqual(moveLines(ar));
      expect(moveLines(mv).length).toBeGreaterThanOrEqual(2 * new Set(p.numbers).size);
      expect(parseAnswer(mv)).toBe(parseAnswer(ar));
      for (const format of ['multiverse', 'sequential'] as const) {
        const r = exampleRecord(p, format, tokenizer, tagIds);
        const layout = multiverseLayout(r.ids, tagIds);
        expect(r.positions).toEqual(layout.positions);
        expect(r.path_span).toEqual(layout.pathSpan);
        expect(tokenizer.decode(r.ids.slice(r.prompt_len))).toBe(`${format === 'multiverse' ? mv : ar}<|im_end|>`);
        expect(r.parts).toBe(new Set(p.numbers).size);
        expect(solves(p, r.answer)).toBe(true);
      }
    }
  });

  it('makes the plan cheap next to the paths: critical-path ratio >= 2.5 and # parallel >= 2 with the models tokenizer', () => {
    const stats = tokenStats(
      problems.slice(0, 200).map((p) => ({ multiverse: exampleRecord(p, 'multiverse', tokenizer, tagIds), sequential: exampleRecord(p, 'sequential', tokenizer, tagIds) })),
    );
    expect(stats.criticalPathRatio).toBeGreaterThanOrEqual(2.5);
    expect(stats.parallelism).toBeGreaterThanOrEqual(2);
    expect(stats.meanMvTotalTokens).toBeGreaterThan(stats.meanArTokens); // the plan's tags and labels, written once per path
  });
});

describe('the answer checker', () => {
  it('agrees with JavaScript arithmetic and the number rule on every (x op y) op z over the numbers', () => {
    const ops = ['+', '-', '*', '/'];
    let accepted = 0;
    for (const p of problems.slice(0, 40)) {
      const [a, b, c] = p.numbers;
      for (const [x, y, z] of [[a, b, c], [b, c, a], [c, a, b], [a, c, b]]) {
        for (const o1 of ops) {
          for (const o2 of ops) {
            for (const expr of [`(${x}${o1}${y})${o2}${z}`, `${z}${o2}(${x}${o1}${y})`]) {
              const inner = jsValue(`${x}${o1}${y}`);
              const ok = Number.isInteger(inner) && inner > 0 && Number.isInteger(jsValue(expr)) && jsValue(expr) > 0 && jsValue(expr) === p.target;
              expect(solves(p, expr), expr).toBe(ok);
              if (ok) accepted++;
            }
          }
        }
      }
    }
    expect(accepted).toBeGreaterThan(40);
  });

  it('rejects a number used twice or not given, junk, and an empty answer', () => {
    const p: Problem = { seed: 0, numbers: [4, 5, 3], target: 60 };
    expect(solves(p, '(5*3)*4')).toBe(true);
    expect(solves(p, '5 * (3 * 4)')).toBe(true);
    expect(solves(p, '(5*4)*3*1')).toBe(false); // 1 is not given
    expect(solves({ ...p, target: 25 }, '5*5')).toBe(false); // 5 given once
    expect(solves({ ...p, target: 1 }, '(4-3)')).toBe(true);
    expect(solves({ ...p, target: 2 }, '(3-4)+3')).toBe(false); // a negative intermediate
    expect(solves(p, '(5*3)*4)')).toBe(false);
    expect(solves(p, '60')).toBe(false);
    expect(solves(p, '')).toBe(false);
    expect(solves(p, undefined)).toBe(false);
  });
});

describe('splits', () => {
  it('draw from disjoint seed ranges, hold no repeats, and never train on a held-out problem', () => {
    const splits = buildSplits({ train: 3000, validation: 200, test: 200 });
    const heldOut = new Set([...splits.validation, ...splits.test].map(problemText));
    expect(new Set(splits.validation.map(problemText)).size).toBe(200);
    expect(new Set(splits.test.map(problemText)).size).toBe(200);
    expect(splits.train.filter((p) => heldOut.has(problemText(p)))).toEqual([]);
    expect(splits.train).toHaveLength(3000);
    expect(splits.train.every((p) => p.seed < SPLIT_SEED_BASE.validation)).toBe(true);
    expect(splits.validation.every((p) => p.seed >= SPLIT_SEED_BASE.validation && p.seed < SPLIT_SEED_BASE.test)).toBe(true);
    expect(splits.test.every((p) => p.seed >= SPLIT_SEED_BASE.test)).toBe(true);
  });

  it('draws every distinct problem of a shape, then refuses one more than the shape has', () => {
    // Numbers 2 to 4 only: 78 problems, so the refusal comes after ~79,000 seeds (the default
    // shape's 5946 problems would take 6 million). The oracle: the distinct texts of the first 100,000 seeds.
    const shape = { min: 2, max: 4 };
    const space = new Set(Array.from({ length: 100_000 }, (_, i) => problemText(generateProblem(SPLIT_SEED_BASE.test + i, shape))));
    expect(new Set(heldOutProblems('test', space.size, shape).map(problemText))).toEqual(space);
    expect(() => heldOutProblems('test', space.size + 1, shape)).toThrow(`only ${space.size} Countdown problems of this shape are available, not ${space.size + 1}`);
    expect(() => generateProblem(0, { min: 2, max: 3 })).toThrow('three distinct numbers need a range of three, not 2..3');
  });
});
