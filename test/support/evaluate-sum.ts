/**
 * The value of a sum of products with brackets (`37*4+(12*9+85*3)`), by recursive descent: the
 * independent oracle for the arithmetic task's answers and the documented prompts.
 * @throws Error for anything else, naming where it stopped.
 */
export function evaluateSum(expr: string): number {
  let at = 0;
  const sum = (): number => {
    let v = product();
    while (expr[at] === '+') {
      at++;
      v += product();
    }
    return v;
  };
  const product = (): number => {
    let v = atom();
    while (expr[at] === '*') {
      at++;
      v *= atom();
    }
    return v;
  };
  const atom = (): number => {
    if (expr[at] === '(') {
      at++;
      const v = sum();
      if (expr[at++] !== ')') throw new Error(`bad expression ${expr}: no ')' at ${at - 1}`);
      return v;
    }
    const m = /^\d+/.exec(expr.slice(at));
    if (m === null) throw new Error(`bad expression ${expr} at ${at}`);
    at += m[0].length;
    return Number(m[0]);
  };
  const v = sum();
  if (at !== expr.length) throw new Error(`bad expression ${expr}: trailing text at ${at}`);
  return v;
}
