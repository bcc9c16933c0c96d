/**
 * The numeric facts that the checks compare (coverage, independence, dependencies). A number is a
 * run of digits with an optional decimal part (`1,234` is two numbers; signs are not part of it).
 * A result is what an equation computes: a number right after `=` that no operator follows
 * (`37*4=120+28=148` computes 148; 120 and 28 are terms).
 */

const NUMBER = /\d+(?:\.\d+)?/g;
const RESULT = /=\s*(\d+(?:\.\d+)?)(?!\d|\.\d|\s*[-+*/×÷^])/g;
const LABEL = /^\s*\d+(?:\.\d+)*:\s*/;

/** The numbers of `text`, in order. */
export function numbersIn(text: string): string[] {
  return text.match(NUMBER) ?? [];
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
