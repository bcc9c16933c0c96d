/**
 * The sequential chain-of-thought solution of a problem: the autoregressive training text, and the
 * input of the Multiverse converter (convert.ts). One step per line:
 *
 *   1: 37*4=30*4+7*4=120+28=148          a product, expanded by place value (label `1:`)
 *   2: 12*9+85*3                         a group opens: its products follow as 2.1, 2.2, ...
 *   2.1: 12*9=10*9+2*9=90+18=108
 *   2.2: 85*3=80*3+5*3=240+15=255
 *   2: 108+255=363                       the group's sum, under the group's label
 *   148+363=511                          the combination: a running sum, one addition at a time
 *   Answer: 511
 *
 * A single-part problem has no labels: its one product line, then the answer.
 */
import { partValue, productText, problemAnswer, type Part, type Problem, type Product } from './problem.js';

/** `37*4=30*4+7*4=120+28=148`: tens and units multiplied apart, then added. */
export function productSteps(p: Product): string {
  const tens = p.a - (p.a % 10);
  const units = p.a % 10;
  return `${productText(p)}=${tens}*${p.b}+${units}*${p.b}=${tens * p.b}+${units * p.b}=${p.a * p.b}`;
}

/** `148+108=256, 256+255=511`: the running sum of `values` (at least two). */
export function sumSteps(values: readonly number[]): string {
  const steps: string[] = [];
  let total = values[0];
  for (const v of values.slice(1)) {
    steps.push(`${total}+${v}=${total + v}`);
    total += v;
  }
  return steps.join(', ');
}

/** The chain lines of one labelled part. */
function partLines(part: Part, label: string): string[] {
  if (part.kind === 'product') return [`${label}: ${productSteps(part)}`];
  return [
    `${label}: ${part.products.map(productText).join('+')}`,
    ...part.products.map((p, i) => `${label}.${i + 1}: ${productSteps(p)}`),
    `${label}: ${sumSteps(part.products.map(partValue))}`,
  ];
}

/** The final line of every solution, AR and Multiverse alike. */
export function answerLine(answer: number): string {
  return `Answer: ${answer}`;
}

/** Reads the answer back from a model's output; undefined when there is none. */
export function parseAnswer(text: string): number | undefined {
  const m = /Answer: (\d+)/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** The whole sequential solution, lines joined by `\n`. */
export function sequentialChain(problem: Problem): string {
  const { parts } = problem;
  const work =
    parts.length === 1 && parts[0].kind === 'product'
      ? [productSteps(parts[0])]
      : [...parts.flatMap((part, i) => partLines(part, String(i + 1))), sumSteps(parts.map(partValue))];
  return [...work, answerLine(problemAnswer(problem))].join('\n');
}
