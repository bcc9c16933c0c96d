/**
 * The search a Countdown solution writes out, as pure functions: which pairs to combine first, which
 * moves to try on a pair, and which moves finish with the remaining number. Each move keeps every
 * result a positive integer (subtraction takes the smaller from the larger, division only when exact).
 */

export type Operator = '+' | '-' | '*' | '/';

/** One arithmetic step `left op right = value`. */
export interface Move {
  left: number;
  op: Operator;
  right: number;
  value: number;
}

/** A first pair (larger number first) and the number left over. */
export interface Pair {
  a: number;
  b: number;
  rest: number;
}

export function moveText(m: Move): string {
  return `${m.left}${m.op}${m.right}`;
}

/**
 * A move as a solution writes it, `12+3=15`; a product of a two-digit number by place value, as the
 * arithmetic task writes it (`12*5=10*5+2*5=50+10=60`), so that each step stays a one-digit fact.
 */
export function moveStep(m: Move): string {
  const units = m.left % 10;
  if (m.op !== '*' || m.left < 10 || units === 0 || m.right >= 10) return `${moveText(m)}=${m.value}`;
  const tens = m.left - units;
  return `${moveText(m)}=${tens}*${m.right}+${units}*${m.right}=${tens * m.right}+${units * m.right}=${m.value}`;
}

/**
 * The subtrees of the search, one per number played last (in the numbers' order; a number equal to
 * an earlier one leaves the same pair, so it is skipped), each with the pair the other two numbers
 * make, larger first.
 */
export function remainingPairs(numbers: readonly number[]): Pair[] {
  const pairs: Pair[] = [];
  numbers.forEach((rest, k) => {
    if (numbers.indexOf(rest) !== k) return;
    const [x, y] = numbers.filter((_, i) => i !== k);
    pairs.push({ a: Math.max(x, y), b: Math.min(x, y), rest });
  });
  return pairs;
}

/** Moves on the pair `a >= b`, in the order `+ - * /`: `a-b` when positive, `a/b` when exact. */
export function firstMoves(a: number, b: number): Move[] {
  const moves: Move[] = [{ left: a, op: '+', right: b, value: a + b }];
  if (a > b) moves.push({ left: a, op: '-', right: b, value: a - b });
  moves.push({ left: a, op: '*', right: b, value: a * b });
  if (a % b === 0) moves.push({ left: a, op: '/', right: b, value: a / b });
  return moves;
}

/**
 * Moves that finish with the remaining number `c` after a first move's result `r`, in the order
 * `+ - * /`; subtraction and division take whichever order gives a positive integer (none when
 * neither does).
 */
export function leafMoves(r: number, c: number): Move[] {
  const moves: Move[] = [{ left: r, op: '+', right: c, value: r + c }];
  if (r !== c) moves.push(r > c ? { left: r, op: '-', right: c, value: r - c } : { left: c, op: '-', right: r, value: c - r });
  moves.push({ left: r, op: '*', right: c, value: r * c });
  if (r % c === 0) moves.push({ left: r, op: '/', right: c, value: r / c });
  else if (c % r === 0) moves.push({ left: c, op: '/', right: r, value: c / r });
  return moves;
}

/** The expression of a first move and a finishing move: the first move bracketed where it stands. */
export function solutionExpression(first: Move, leaf: Move): string {
  const inner = `(${moveText(first)})`;
  // When the result equals the remaining number, either side reads the same.
  return leaf.left === first.value ? `${inner}${leaf.op}${leaf.right}` : `${leaf.left}${leaf.op}${inner}`;
}
