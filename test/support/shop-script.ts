/**
 * Recorded answers for the curator's tests: shop traces (two independent costs, their sum, the
 * answer), the answers a careful LLM gives at each stage, and the text the conversion must end as,
 * written out by hand. Scenarios replace some answers with broken ones or put faults in front.
 */
import { attemptOf, questionOf, stageOf, type ChatRequest, type Reply } from './chat-server.js';

export interface ShopTrace {
  id: string;
  question: string;
  reasoning: string;
  answer: string;
}

/** The n-th shop trace: `a` pens at $3 and `b` notebooks at $5 (a=4+2n, b=2+2n keep every number distinct). */
export function shopTrace(n: number): ShopTrace {
  const a = 4 + 2 * n;
  const b = 2 + 2 * n;
  return {
    id: `shop-${n}`,
    question: `A shop sells pens at $3 and notebooks at $5. Ann buys ${a} pens and ${b} notebooks. What does she pay?`,
    reasoning: `The pens cost ${a}*3 = ${3 * a} dollars.\nThe notebooks cost ${b}*5 = ${5 * b} dollars.\nTogether she pays ${3 * a}+${5 * b} = ${3 * a + 5 * b} dollars.\nAnswer: ${3 * a + 5 * b}`,
    answer: String(3 * a + 5 * b),
  };
}

/** The conversion of shopTrace(n), by hand. */
export function shopText(n: number): string {
  const [pens, notebooks, together, answer] = shopTrace(n).reasoning.split('\n');
  return (
    '<Parallel><Goal><Outline>1: the cost of the pens</Outline><Outline>2: the cost of the notebooks</Outline></Goal>' +
    `<Path>1: ${pens}</Path><Path>2: ${notebooks}</Path><Conclusion>${together}</Conclusion></Parallel>\n${answer}`
  );
}

/** A careful LLM's answer to each stage for shopTrace(n). */
export function correctAnswers(n: number): Record<string, string> {
  const lines = shopTrace(n).reasoning.split('\n');
  const summaries = ['pens', 'notebooks', 'total', 'the answer'];
  return {
    steps: JSON.stringify({ steps: lines.map((text, i) => ({ id: `s${i + 1}`, text, summary: summaries[i], parent: null })) }),
    dependencies: '{"uses": {"s1": [], "s2": [], "s3": ["s1", "s2"], "s4": ["s3"]}}',
    blocks: '```json\n{"plan": [{"paths": [["s1"], ["s2"]], "conclusion": ["s3"]}, "s4"]}\n```',
    outlines: '{"blocks": [{"outlines": ["the cost of the pens", "the cost of the notebooks"], "conclusion": ""}]}',
  };
}

/** A `steps` answer that leaves out the notebooks' line. */
export function missingStep(n: number): string {
  const lines = shopTrace(n).reasoning.split('\n');
  return JSON.stringify({ steps: [0, 2, 3].map((i) => ({ id: `s${i + 1}`, text: lines[i], summary: 'x', parent: null })) });
}

/** Broken answers by stage and attempt (0 = first ask, 1 = after a repair), and faults before a stage's first answer. */
export interface Scenario {
  answers?: Record<string, Record<number, string>>;
  faults?: Record<string, Reply[]>;
}

/** The plan that puts the total into the notebooks' path: a cross-path reference when `uses` hides it. */
export const CROSSED_PLAN = '{"plan": [{"paths": [["s1"], ["s2", "s3"]], "conclusion": []}, "s4"]}';
/** Uses that hide the total's use of the pens' cost. */
export const HIDDEN_USE = '{"uses": {"s1": [], "s2": [], "s3": ["s2"], "s4": ["s3"]}}';

/** The server's answer function for traces 0..n-1 of `scenarios` (a missing scenario answers correctly). */
export function scriptedAnswers(scenarios: readonly (Scenario | undefined)[]): (request: ChatRequest) => Reply {
  const byQuestion = new Map(scenarios.map((s, n) => [shopTrace(n).question, { n, scenario: s ?? {} }]));
  const faultsServed = new Map<string, number>();
  return (request) => {
    const entry = byQuestion.get(questionOf(request));
    if (entry === undefined) return { status: 400, body: '{"error":{"message":"unknown question"}}' };
    const stage = stageOf(request);
    const attempt = attemptOf(request);
    const key = `${entry.n}/${stage}`;
    const faults = entry.scenario.faults?.[stage] ?? [];
    const served = faultsServed.get(key) ?? 0;
    if (attempt === 0 && served < faults.length) {
      faultsServed.set(key, served + 1);
      return faults[served];
    }
    return { content: entry.scenario.answers?.[stage]?.[attempt] ?? correctAnswers(entry.n)[stage] };
  };
}
