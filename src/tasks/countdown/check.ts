/**
 * Whether a reported expression solves a Countdown problem, judged from the expression itself (not
 * by comparing it with the expected text): it parses as numbers, `+ - * /` and brackets, uses each
 * given number at most once, and evaluates exactly to the target with every intermediate result a
 * positive integer (the game's rule). train/countdown_check.py is its Python twin.
 */
import type { Problem } from './problem.js';

type Token = number | string;

function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = [];
  for (const m of text.matchAll(/\s*(\d+|[-+*/()])\s*|(\S)/g)) {
    if (m[2] !== undefined) return undefined;
    tokens.push(/\d/.test(m[1]) ? Number(m[1]) : m[1]);
  }
  return tokens;
}

/** Evaluates by recursive descent; undefined for a syntax error or a result that breaks the rule. */
class Evaluator {
  private at = 0;
  readonly used: number[] = [];
  constructor(private readonly tokens: Token[]) {}

  run(): number | undefined {
    const value = this.sum();
    return this.at === this.tokens.length ? value : undefined;
  }

  private sum(): number | undefined {
    return this.level('+', '-', () => this.product());
  }

  private product(): number | undefined {
    return this.level('*', '/', () => this.atom());
  }

  /** One precedence level: operands from `operand`, joined left to right by either operator. */
  private level(op1: string, op2: string, operand: () => number | undefined): number | undefined {
    let left = operand();
    while (left !== undefined && (this.peek() === op1 || this.peek() === op2)) {
      const op = this.tokens[this.at++] as string;
      left = apply(left, op, operand());
    }
    return left;
  }

  private atom(): number | undefined {
    const t = this.tokens[this.at++];
    if (typeof t === 'number') {
      this.used.push(t);
      return t;
    }
    if (t !== '(') return undefined;
    const value = this.sum();
    return this.tokens[this.at++] === ')' ? value : undefined;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }
}

function apply(left: number, op: string, right: number | undefined): number | undefined {
  if (right === undefined) return undefined;
  const value = op === '+' ? left + right : op === '-' ? left - right : op === '*' ? left * right : left / right;
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Whether `expression` reaches the problem's target with its numbers, each at most once. */
export function solves(problem: Problem, expression: string | undefined): boolean {
  const tokens = expression === undefined ? undefined : tokenize(expression);
  if (tokens === undefined || tokens.length === 0) return false;
  const evaluator = new Evaluator(tokens);
  if (evaluator.run() !== problem.target) return false;
  const left = [...problem.numbers];
  return evaluator.used.every((n) => {
    const i = left.indexOf(n);
    if (i < 0) return false;
    left.splice(i, 1);
    return true;
  });
}
