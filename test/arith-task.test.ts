import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { multiverseLayout } from '../src/multiverse/attention.js';
import { resolveTagIds, type MultiverseTagIds } from '../src/multiverse/tags.js';
import { parseAnswer, sequentialChain } from '../src/tasks/arith/chain.js';
import { ChainFormatError, toMultiverse } from '../src/tasks/arith/convert.js';
import { END_OF_TURN, exampleRecord, promptText, solutionText, type ExampleRecord } from '../src/tasks/arith/export.js';
import { generateProblem, problemAnswer, problemText, type Problem } from '../src/tasks/arith/problem.js';
import { buildSplits, SPLIT_SEED_BASE } from '../src/tasks/arith/splits.js';
import { TINY } from '../src/testkit/random-checkpoint.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';
import { evaluateSum } from './support/evaluate-sum.js';

const SEEDS = Array.from({ length: 400 }, (_, i) => i);
const problems = SEEDS.map((seed) => generateProblem(seed));

/** The Path labels of a Multiverse text, in order. */
const pathLabels = (text: string) => Array.from(text.matchAll(/<Path>(\d+(?:\.\d+)*):/g), (m) => m[1]);

let root: string;
let tokenizer: Tokenizer;
let tagIds: MultiverseTagIds;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-arith-'));
  writeTokenizerFiles(root, buildTokenizerFiles(TINY.bpeVocabSize));
  tokenizer = await loadTokenizer(root);
  tagIds = resolveTagIds((text) => tokenizer.tokenId(text)) as MultiverseTagIds;
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('arithmetic problems', () => {
  it('are a pure function of the seed', () => {
    expect(SEEDS.slice(0, 50).map((s) => generateProblem(s))).toEqual(problems.slice(0, 50));
    expect(new Set(problems.map(problemText)).size).toBeGreaterThan(350);
  });

  it('cover 1 to 6 parts, with nested groups among multi-part problems', () => {
    const counts = new Set(problems.map((p) => p.parts.length));
    expect([...counts].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(problems.some((p) => p.parts.some((part) => part.kind === 'group'))).toBe(true);
    for (const p of problems) {
      const products = p.parts.reduce((n, part) => n + (part.kind === 'group' ? part.products.length : 1), 0);
      expect(products).toBeLessThanOrEqual(6);
    }
  });

  it('have the answer the expression evaluates to, and every step of the chain is true', () => {
    for (const p of problems) {
      expect(problemAnswer(p)).toBe(evaluateSum(problemText(p).replace('Compute ', '')));
      const lines = sequentialChain(p).split('\n');
      expect(parseAnswer(lines.at(-1) as string)).toBe(problemAnswer(p));
      for (const line of lines.slice(0, -1)) {
        for (const step of line.replace(/^[\d.]+: /, '').split(', ')) {
          const sides = step.split('=').map(evaluateSum);
          expect(new Set(sides).size).toBe(1);
        }
      }
    }
  });
});

describe('the Multiverse converter', () => {
  it('writes the engine team format exactly', () => {
    const p: Problem = { seed: 0, parts: [{ kind: 'product', a: 37, b: 4 }, { kind: 'product', a: 12, b: 9 }] };
    expect(toMultiverse(sequentialChain(p))).toBe(
      '<Parallel><Goal><Outline>1: 37*4</Outline><Outline>2: 12*9</Outline></Goal>' +
        '<Path>1: 37*4=30*4+7*4=120+28=148</Path><Path>2: 12*9=10*9+2*9=90+18=108</Path>' +
        '<Conclusion>148+108=256</Conclusion></Parallel>\nAnswer: 256',
    );
  });

  it('nests a group as a block inside its path', () => {
    const p: Problem = {
      seed: 0,
      parts: [
        { kind: 'product', a: 37, b: 4 },
        { kind: 'group', products: [{ kind: 'product', a: 12, b: 9 }, { kind: 'product', a: 85, b: 3 }] },
      ],
    };
    expect(problemText(p)).toBe('Compute 37*4+(12*9+85*3)');
    expect(toMultiverse(sequentialChain(p))).toBe(
      '<Parallel><Goal><Outline>1: 37*4</Outline><Outline>2: 12*9+85*3</Outline></Goal>' +
        '<Path>1: 37*4=30*4+7*4=120+28=148</Path>' +
        '<Path>2: 12*9+85*3<Parallel><Goal><Outline>2.1: 12*9</Outline><Outline>2.2: 85*3</Outline></Goal>' +
        '<Path>2.1: 12*9=10*9+2*9=90+18=108</Path><Path>2.2: 85*3=80*3+5*3=240+15=255</Path>' +
        '<Conclusion>108+255=363</Conclusion></Parallel></Path>' +
        '<Conclusion>148+363=511</Conclusion></Parallel>\nAnswer: 511',
    );
  });

  it('keeps single-part problems sequential and gives one path per part, labelled in order', () => {
    for (const p of problems) {
      const mv = solutionText(p, 'multiverse');
      if (p.parts.length === 1) {
        expect(mv).toBe(sequentialChain(p));
        expect(mv).not.toContain('<Parallel>');
        continue;
      }
      const expected = p.parts.flatMap((part, i) =>
        part.kind === 'product' ? [`${i + 1}`] : [`${i + 1}`, ...part.products.map((_, j) => `${i + 1}.${j + 1}`)],
      );
      expect(pathLabels(mv)).toEqual(expected);
      expect(mv.endsWith(`</Parallel>\nAnswer: ${problemAnswer(p)}`)).toBe(true);
    }
  });

  it('rejects a chain that breaks the line grammar', () => {
    expect(() => toMultiverse('1: 2*3=6\n2: 4*5=20\n2.1: oops\nAnswer: 26')).toThrow(ChainFormatError);
  });
});

describe('exported examples', () => {
  const records = () => problems.slice(0, 120).flatMap((p) => [exampleRecord(p, 'multiverse', tokenizer, tagIds), exampleRecord(p, 'sequential', tokenizer, tagIds)]);

  it('pass the format parser, with positions and path spans from multiverseLayout', () => {
    for (const r of records()) {
      const layout = multiverseLayout(r.ids, tagIds);
      expect(r.positions).toEqual(layout.positions);
      expect(r.path_span).toEqual(layout.pathSpan);
      if (r.format === 'sequential') expect(r.positions).toEqual(r.ids.map((_, i) => i));
    }
  });

  it('put the loss mask on the answer only', () => {
    for (const r of records()) {
      const p = problems[r.seed];
      expect(r.loss_mask).toEqual(r.ids.map((_, i) => (i < r.prompt_len ? 0 : 1)));
      expect(tokenizer.decode(r.ids.slice(0, r.prompt_len))).toBe(`<|im_start|>user\n${problemText(p)}<|im_end|>\n<|im_start|>assistant\n`);
      expect(tokenizer.decode(r.ids.slice(r.prompt_len))).toBe(solutionText(p, r.format) + END_OF_TURN);
      expect(promptText(p, tokenizer)).toBe(tokenizer.decode(r.ids.slice(0, r.prompt_len)));
    }
  });

  it('carry span tables that rebuild the Multiverse visibility exactly', () => {
    // The trainer's rule (train/data.py): hidden when the two span chains hold different spans of one block.
    const chain = (r: ExampleRecord, s: number) => {
      const c: number[] = [];
      for (; s >= 0; s = r.span_parent[s]) c.unshift(s);
      return c;
    };
    const nested = records().filter((r) => r.format === 'multiverse' && problems[r.seed].parts.some((p) => p.kind === 'group'));
    expect(nested.length).toBeGreaterThan(3);
    for (const r of nested.slice(0, 4)) {
      const layout = multiverseLayout(r.ids, tagIds);
      const chains = r.path_span.map((s) => chain(r, s));
      const rebuilt = (q: number, k: number) =>
        k <= q && !chains[q].some((s, d) => d < chains[k].length && s !== chains[k][d] && r.span_block[s] === r.span_block[chains[k][d]]);
      const rows = (visible: (q: number, k: number) => boolean) =>
        r.ids.map((_, q) => r.ids.map((_, k) => (visible(q, k) ? '1' : '.')).join(''));
      expect(rows(rebuilt)).toEqual(rows((q, k) => layout.visible(q, k)));
    }
  });
});

describe('splits', () => {
  it('draw from disjoint seed ranges and never train on a held-out problem', () => {
    const splits = buildSplits({ train: 3000, validation: 300, test: 300 });
    const heldOut = new Set([...splits.validation, ...splits.test].map(problemText));
    expect(splits.train.filter((p) => heldOut.has(problemText(p)))).toEqual([]);
    expect(splits.train.length).toBe(3000);
    // Single products recur across seeds, so some training seeds were skipped.
    expect(splits.train.at(-1)!.seed).toBeGreaterThan(3000 - 1);
    expect(splits.train.every((p) => p.seed < SPLIT_SEED_BASE.validation)).toBe(true);
    expect(splits.validation.every((p) => p.seed >= SPLIT_SEED_BASE.validation && p.seed < SPLIT_SEED_BASE.test)).toBe(true);
    expect(splits.test.every((p) => p.seed >= SPLIT_SEED_BASE.test)).toBe(true);
  });
});
