/**
 * The numeric facts that the checks compare (coverage, independence). A number is a run of digits
 * with an optional decimal part (`1,234` is two numbers; signs are not part of it).
 * A result is what an equation computes: a number right after `=` that no operator follows
 * (`37*4=120+28=148` computes 148; 120 and 28 are terms).
 * A mention is a number the text starts from rather than derives: everything outside equations,
 * and in an equation chain only its first expression that holds a number (`37*4=30*4+7*4=…`
 * mentions 37 and 4; 30, 7, 120, … are derived from them, so a coincidence with another path's
 * result there is no reference to it).
 */

const NUMBER = /\d+(?:\.\d+)?/g;
const RESULT = /=\s*(\d+(?:\.\d+)?)(?!\d|\.\d|\s*[-+*/×÷^])/g;
const LABEL = /^\s*\d+(?:\.\d+)*:\s*/;

/** The numbers of `text`, in order. */
export function numbersIn(text: string): string[] {
  return text.match(NUMBER) ?? [];
}

const EXPRESSION = String.raw`[\d.+\-*/×÷^() \t]*`;
const EQUATION = new RegExp(`${EXPRESSION}(?:=${EXPRESSION})+`, 'g');

/** The numbers `text` mentions, in order. */
export function mentionsIn(text: string): string[] {
  return numbersIn(text.replace(EQUATION, (chain) => ` ${chain.split('=').find((side) => /\d/.test(side)) ?? ''} `));
}

/** The results of `text`: numbers that equations compute. */
export function resultsIn(text: string): string[] {
  return [...text.matchAll(RESULT)].map((m) => m[1]);
}

/** `text` without a leading step label such as `2.1: ` (paths and conclusions get their own labels). */
export function stripLabel(text: string): string {
  return text.replace(LABEL, '');
}

/** Whether `run` occurs in `list` as a contiguous run. */
export function containsRun(list: readonly string[], run: readonly string[]): boolean {
  if (run.length === 0) return true;
  for (let i = 0; i + run.length <= list.length; i++) {
    if (run.every((n, j) => list[i + j] === n)) return true;
  }
  return false;
}
