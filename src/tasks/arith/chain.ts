/**
 * The sequential chain-of-thought solution of a problem: the autoregressive training text, and the
 * input of the Multiverse converter (convert.ts). One step per line:
 *
 *   1:374*6=300*6+70*6+4*6=1800+420+24=2220+24=2244    a product, expanded by place value
 *   2:215*3+128*7                                       a group opens: its products follow as 2.1, 2.2
 *   2.1:215*3=200*3+10*3+5*3=600+30+15=630+15=645
 *   2.2:128*7=100*7+20*7+8*7=700+140+56=840+56=896
 *   2:2.1:645+2.2:896~1451                              the group's sum, under the group's label
 *   =1:2244+2:1541~5873                                 the combination of the top level
 *   Answer: 3785
 *
 * A sum names each operand by its step's label (`2.1:645`), so finding it is a lookup by label,
 * not a count. Its running totals (after `~`) are written units digit first, the order column
 * addition produces them: each digit then depends only on the digits just before it, which small
 * models learn far more reliably than left-to-right carries. A group's total is read back in the
 * usual order where it is used (`2:1541`), and so is the final answer.
 *
 * A single-part problem has no labels: its one product line, then the answer.
 */
import { partValue, productText, problemAnswer, type Part, type Problem, type Product } from './problem.js';

/** Starts the top level's combining line, which has no label of its own. */
export const COMBINE_MARK = '=';

/** Separates a running total, written units digit first, from the operands before it. */
export const TOTAL_MARK = '~';

/** `374*6=300*6+70*6+4*6=1800+420+24=2220+24=2244`: place values multiplied apart, then added in turn. */
export function productSteps(p: Product): string {
  const digits = String(p.a);
  const terms = [...digits].map((d, i) => Number(d) * 10 ** (digits.length - 1 - i)).filter((t) => t > 0);
  const products = terms.map((t) => t * p.b);
  let text = `${productText(p)}=${terms.map((t) => `${t}*${p.b}`).join('+')}=${products.join('+')}`;
  let total = products[0] + products[1];
  text += `=${total}`;
  for (const q of products.slice(2)) {
    total += q;
    text += `+${q}=${total}`;
  }
  return text;
}

/** `1234` → `4321`: how a running total is written. */
export function unitsFirst(n: number): string {
  return [...String(n)].reverse().join('');
}

/** `1:2244+2:1541~5873`: the labelled operands and, after each addition, the running total units first. */
export function sumSteps(values: readonly number[], labels: readonly string[]): string {
  let total = values[0];
  let text = `${labels[0]}:${values[0]}`;
  for (let i = 1; i < values.length; i++) {
    total += values[i];
    text += `+${labels[i]}:${values[i]}${TOTAL_MARK}${unitsFirst(total)}`;
  }
  return text;
}

/** The chain lines of one labelled part. */
function partLines(part: Part, label: string): string[] {
  if (part.kind === 'product') return [`${label}:${productSteps(part)}`];
  const labels = part.products.map((_, i) => `${label}.${i + 1}`);
  return [
    `${label}:${part.products.map(productText).join('+')}`,
    ...part.products.map((p, i) => `${labels[i]}:${productSteps(p)}`),
    `${label}:${sumSteps(part.products.map(partValue), labels)}`,
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
  const labels = parts.map((_, i) => String(i + 1));
  const work =
    parts.length === 1 && parts[0].kind === 'product'
      ? [productSteps(parts[0])]
      : [...parts.flatMap((part, i) => partLines(part, labels[i])), COMBINE_MARK + sumSteps(parts.map(partValue), labels)];
  return [...work, answerLine(problemAnswer(problem))].join('\n');
}
