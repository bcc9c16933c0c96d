/**
 * A scripted "LLM" that answers every curator stage correctly for the arithmetic task's sequential
 * chains (src/tasks/arith/chain.ts). It works from the problem's structure (parts, groups,
 * products), not from the chain's text, so the rule-based converter stays an independent oracle.
 */
import { sequentialChain } from '../../src/tasks/arith/chain.js';
import { productText, type Problem } from '../../src/tasks/arith/problem.js';
import { questionOf, stageOf, type ChatRequest, type Reply } from './chat-server.js';

type Item = string | { paths: Item[][]; conclusion: Item[] };

/** The four stages' answers for `problem`, as JSON texts. */
export function arithAnswers(problem: Problem): Record<string, string> {
  const lines = sequentialChain(problem).split('\n');
  const uses: string[][] = [];
  const parent: (string | null)[] = [];
  const id = (i: number) => `s${i + 1}`;
  const step = (used: number[], parentIndex: number | null = null): number => {
    uses.push(used.map(id));
    parent.push(parentIndex === null ? null : id(parentIndex));
    return uses.length - 1;
  };
  const outlines: string[][] = [];
  let plan: Item[];
  if (problem.parts.length === 1) {
    plan = [id(step([])), id(step([0]))];
  } else {
    const partValues: number[] = [];
    const nested: string[][] = [];
    const paths: Item[][] = problem.parts.map((part) => {
      if (part.kind === 'product') {
        const s = step([]);
        partValues.push(s);
        return [id(s)];
      }
      const header = step([]);
      const products = part.products.map(() => step([header], header));
      const sum = step(products, header);
      partValues.push(sum);
      nested.push(part.products.map(productText));
      return [id(header), { paths: products.map((p) => [id(p)]), conclusion: [id(sum)] }];
    });
    const total = step(partValues);
    const answer = step([total]);
    plan = [{ paths, conclusion: [id(total)] }, id(answer)];
    outlines.push(problem.parts.map((part) => (part.kind === 'product' ? productText(part) : part.products.map(productText).join('+'))), ...nested);
  }
  return {
    steps: JSON.stringify({ steps: lines.map((text, i) => ({ id: id(i), text, summary: `line ${i + 1}`, parent: parent[i] })) }),
    dependencies: JSON.stringify({ uses: Object.fromEntries(uses.map((u, i) => [id(i), u])) }),
    blocks: JSON.stringify({ plan }),
    outlines: JSON.stringify({ blocks: outlines.map((o) => ({ outlines: o, conclusion: '' })) }),
  };
}

/** The server's answer function for the problems in `byQuestion`. */
export function arithLlm(byQuestion: ReadonlyMap<string, Problem>): (request: ChatRequest) => Reply {
  return (request) => {
    const problem = byQuestion.get(questionOf(request));
    if (problem === undefined) return { status: 400, body: '{"error":{"message":"unknown question"}}' };
    return { content: arithAnswers(problem)[stageOf(request)] };
  };
}
