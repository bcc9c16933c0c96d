/**
 * Stage 5, without the LLM: checks a converted text against its original trace.
 *
 * - grammar: the tags parse under the Multiverse grammar (the engine's layout code), every block
 *   has two or more paths, and its outlines carry the same labels, in order, as its paths.
 * - coverage, by exact numeric facts: for every original step (a non-empty line of the reasoning,
 *   its own label dropped), the numbers it writes appear in the same order, as one contiguous run,
 *   among the numbers of the converted text outside its goals. A step without numbers is not
 *   checked here (the `steps` stage already requires the steps to reproduce the reasoning verbatim).
 * - independence: no path mentions a result (numbers.ts: a number it starts from, not one its
 *   own equations derive) that a sibling path of the same block computes, unless the path
 *   computes it too or it is already known before the paths (the question, the text before the
 *   block, the goal).
 * - answer: the text after the last top-level block states the trace's answer.
 */
import { parseOutlines } from '../multiverse/outline.js';
import { containsRun, mentionsIn, numbersIn, resultsIn, stripLabel } from './numbers.js';
import { readBlocks, type TextBlock } from './text-blocks.js';
import { originalSteps, type Trace } from './trace.js';

export type CheckKind = 'grammar' | 'coverage' | 'independence' | 'answer';

export interface CheckProblem {
  check: CheckKind;
  message: string;
}

const PATH_LABEL = /^<Path>(\d+(?:\.\d+)*):/;
/** Path and outline labels: not part of the content. */
const LABELS = /<(Path|Outline)>\d+(?:\.\d+)*:/g;

function grammarProblems(text: string, blocks: readonly TextBlock[]): CheckProblem[] {
  const problems: CheckProblem[] = [];
  blocks.forEach((block, b) => {
    const where = `block ${b + 1}`;
    if (block.paths.length < 2) problems.push({ check: 'grammar', message: `${where} has ${block.paths.length} path; a block needs two or more` });
    const outlines = parseOutlines(text.slice(...block.goal)).map((o) => o.label);
    const labels = block.paths.map(([start, end]) => PATH_LABEL.exec(text.slice(start, end))?.[1] ?? '(none)');
    if (outlines.join(',') !== labels.join(',')) {
      problems.push({ check: 'grammar', message: `${where}: outline labels [${outlines.join(', ')}] do not match path labels [${labels.join(', ')}]` });
    }
  });
  return problems;
}

function coverageProblems(trace: Trace, text: string, blocks: readonly TextBlock[]): CheckProblem[] {
  let outsideGoals = '';
  let at = 0;
  for (const { goal } of blocks) {
    outsideGoals += text.slice(at, goal[0]);
    at = goal[1];
  }
  const numbers = numbersIn((outsideGoals + text.slice(at)).replace(LABELS, '<$1>'));
  return originalSteps(trace.reasoning).flatMap((step, i) => {
    const facts = numbersIn(stripLabel(step));
    if (containsRun(numbers, facts)) return [];
    return [{ check: 'coverage' as const, message: `original step ${i + 1} (${JSON.stringify(step)}) is missing: its numbers ${facts.join(' ')} do not appear in order` }];
  });
}

function independenceProblems(trace: Trace, text: string, blocks: readonly TextBlock[]): CheckProblem[] {
  const problems: CheckProblem[] = [];
  blocks.forEach((block, b) => {
    const known = new Set(numbersIn(trace.question + text.slice(0, block.goal[1]).replace(LABELS, '<$1>')));
    const paths = block.paths.map(([start, end]) => {
      const content = text.slice(start, end).replace(LABELS, '<$1>');
      return { mentions: new Set(mentionsIn(content)), results: new Set(resultsIn(content)) };
    });
    paths.forEach((path, p) => {
      paths.forEach((sibling, s) => {
        if (s === p) return;
        for (const value of sibling.results) {
          if (path.mentions.has(value) && !path.results.has(value) && !known.has(value)) {
            problems.push({ check: 'independence', message: `block ${b + 1}: path ${p + 1} mentions ${value}, a result computed in sibling path ${s + 1}` });
          }
        }
      });
    });
  });
  return problems;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function answerProblems(trace: Trace, text: string, blocks: readonly TextBlock[]): CheckProblem[] {
  const lastTop = blocks.filter((b) => b.depth === 1).at(-1);
  const tail = lastTop === undefined ? text : text.slice(lastTop.whole[1]);
  const stated = new RegExp(`(?<![\\w.])${escapeRegExp(trace.answer)}(?![\\w]|\\.\\d)`).test(tail);
  if (stated) return [];
  return [{ check: 'answer', message: `the text after the last block does not state the final answer ${JSON.stringify(trace.answer)}` }];
}

/** Every problem of `text` as a conversion of `trace`; [] when it passes. */
export function verifyConversion(trace: Trace, text: string): CheckProblem[] {
  const read = readBlocks(text);
  if ('problem' in read) return [{ check: 'grammar', message: read.problem }];
  const { blocks } = read;
  return [
    ...grammarProblems(text, blocks),
    ...coverageProblems(trace, text, blocks),
    ...independenceProblems(trace, text, blocks),
    ...answerProblems(trace, text, blocks),
  ];
}
