/**
 * The sequential solution of a Countdown problem: the search written out step by step, in the line
 * grammar of the arithmetic chains (src/tasks/arith/chain.ts), so that the same rule-based converter
 * (src/tasks/arith/convert.ts) turns it into the Multiverse format. For `Make 60 from 4 5 3`:
 *
 *   1: 4                            a subtree: the number played last; the other two are the pair
 *   1.1: 5+3=8 8+4=12 8-4=4 8*4=32 8/4=2        one first move on the pair, then the finishing
 *   1.2: 5-3=2 2+4=6 4-2=2 2*4=8 4/2=2            moves with the last number in the order + - * /,
 *   1.3: 5*3=15 15+4=19 15-4=11 15*4=10*4+5*4=40+20=60 so (5*3)*4    up to the first that hits
 *   1: (5*3)*4                      the subtree's finding: the expression of its first hit, or `no`
 *   2: 5
 *   …
 *   (5*3)*4                         the search's finding: the first subtree's hit
 *   Answer: (5*3)*4
 *
 * Every step is an equation checkable on its own; a subtree stops at its first hit or when its
 * moves run out, and every subtree is written whether or not an earlier one hit. Converted, each
 * subtree is a path holding a nested block with one path per first move.
 *
 * A line that hits writes its expression right there (`so (5*3)*4`), where the first move and the
 * finishing move are a few tokens back. The findings then copy the first such expression instead of
 * recomputing it from a label: when findings were labels (`1: 1.3`, then `Answer:` built from the
 * labelled line), the trained 1M-parameter models wrote every move right and still lost 14-16% of
 * validation problems on the findings (docs/countdown.md).
 */
import type { Problem } from './problem.js';
import { firstMoves, leafMoves, moveStep, remainingPairs, solutionExpression, type Pair } from './search.js';

/** A subtree's lines and the expression of its first hit. */
interface Subtree {
  lines: string[];
  hit: string | undefined;
}

function subtree(pair: Pair, label: string, target: number): Subtree {
  const lines = [`${label}: ${pair.rest}`];
  let hit: Subtree['hit'];
  firstMoves(pair.a, pair.b).forEach((first, i) => {
    const steps = [moveStep(first)];
    for (const leaf of leafMoves(first.value, pair.rest)) {
      steps.push(moveStep(leaf));
      if (leaf.value !== target) continue;
      const expression = solutionExpression(first, leaf);
      steps.push(`so ${expression}`);
      hit ??= expression;
      break;
    }
    lines.push(`${label}.${i + 1}: ${steps.join(' ')}`);
  });
  lines.push(`${label}: ${hit ?? 'no'}`);
  return { lines, hit };
}

/** The expression a model's output reports; undefined when there is none. */
export function parseAnswer(text: string): string | undefined {
  const m = /Answer: ([^\n<]*)/.exec(text);
  return m === null ? undefined : m[1].trim();
}

/**
 * The whole sequential solution, lines joined by `\n`.
 * @throws Error when the search finds nothing (never for a generated problem: its target is built
 *   from the moves the search tries).
 */
export function sequentialChain(problem: Problem): string {
  const subtrees = remainingPairs(problem.numbers).map((pair, i) => subtree(pair, String(i + 1), problem.target));
  const hit = subtrees.find((s) => s.hit !== undefined)?.hit;
  if (hit === undefined) throw new Error(`the search finds no solution to ${JSON.stringify(problem)}`);
  return [...subtrees.flatMap((s) => s.lines), hit, `Answer: ${hit}`].join('\n');
}
