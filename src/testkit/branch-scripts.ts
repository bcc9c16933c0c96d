/**
 * What each branch writes when the engine runs a Multiverse solution, by branch path (`0`, `0/1`,
 * `0/1/0`, …): a branch writes its text up to its block's `</Goal>` and, after the merge, what
 * follows the forced `<Conclusion>`; each path writes what follows its forced `<Path>{label}:`, up to
 * its `</Path>`. At most one block per branch (as in the task formats); paths may nest blocks.
 */
export function branchScripts(solution: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (text: string, branch: string) => {
    const open = text.indexOf('<Parallel>');
    if (open < 0) {
      out[branch] = text;
      return;
    }
    const goalEnd = text.indexOf('</Goal>', open) + '</Goal>'.length;
    let at = goalEnd;
    for (let child = 0; text.startsWith('<Path>', at); child++) {
      let depth = 0;
      let end = at;
      for (;;) {
        const next = text.slice(end).search(/<\/?Path>/);
        const tag = text.slice(end + next).startsWith('</Path>') ? '</Path>' : '<Path>';
        end += next + tag.length;
        depth += tag === '<Path>' ? 1 : -1;
        if (depth === 0) break;
      }
      const body = text.slice(at, end).replace(/^<Path>\d+(?:\.\d+)*:/, '');
      walk(body, `${branch}/${child}`);
      at = end;
    }
    if (!text.startsWith('<Conclusion>', at)) throw new Error(`expected <Conclusion> at ${at} in ${text}`);
    out[branch] = text.slice(0, goalEnd) + text.slice(at + '<Conclusion>'.length);
  };
  walk(solution, '0');
  return out;
}
