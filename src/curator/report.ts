/**
 * The report of a curation: what was converted, repaired and rejected (and at which stage), the
 * "# parallel" degree of the result (generated tokens over the critical path, the paper's measure),
 * and histograms of nesting depth per record and width (paths) per block. It is computed from the
 * output files, so a resumed run reports the same as an uninterrupted one.
 */
import type { CuratedRecord, RejectedRecord } from './record.js';

export interface CurationReport {
  traces: number;
  converted: number;
  repaired: number;
  rejected: number;
  /** Rejections per stage (`steps`, …, `verify/independence`). */
  rejectedBy: Record<string, number>;
  /** Why each rejected trace was rejected: its first problem. */
  reasons: { id: string; stage: string; problem: string }[];
  /** Σ answer tokens / Σ critical-path tokens over the written records (1 for sequential text). */
  parallel: number;
  /** Records per deepest nesting (0 = stayed sequential). */
  depth: Record<string, number>;
  /** Blocks per number of paths. */
  width: Record<string, number>;
}

function count(into: Record<string, number>, key: string | number): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** The answer's tokens and the length of its critical path (its position extent). */
function answerSpan(record: CuratedRecord): { tokens: number; critical: number } {
  const positions = record.positions.slice(record.prompt_len);
  return { tokens: positions.length, critical: Math.max(...positions) - positions[0] + 1 };
}

export function buildReport(records: readonly CuratedRecord[], rejected: readonly RejectedRecord[]): CurationReport {
  const report: CurationReport = { traces: records.length + rejected.length, converted: 0, repaired: 0, rejected: rejected.length, rejectedBy: {}, reasons: [], parallel: 1, depth: {}, width: {} };
  let tokens = 0;
  let critical = 0;
  for (const record of records) {
    if (record.curator?.status === 'repaired') report.repaired++;
    else report.converted++;
    const blocks = record.curator?.blocks ?? [];
    count(report.depth, Math.max(0, ...blocks.map((b) => b.depth)));
    for (const b of blocks) count(report.width, b.width);
    const span = answerSpan(record);
    tokens += span.tokens;
    critical += span.critical;
  }
  for (const r of rejected) {
    count(report.rejectedBy, r.stage);
    report.reasons.push({ id: r.id, stage: r.stage, problem: r.problems[0] ?? '' });
  }
  if (critical > 0) report.parallel = tokens / critical;
  return report;
}

const histogram = (h: Record<string, number>) =>
  Object.entries(h)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || '-';

/** Rejections listed by id in the text report; the rest are in the .rejected.jsonl file. */
const LISTED_REASONS = 10;

/** The report as text, one fact per line, then the first rejections and why. */
export function formatReport(r: CurationReport): string {
  const by = Object.entries(r.rejectedBy)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([stage, n]) => `${stage} ${n}`)
    .join(', ');
  return [
    `traces      ${r.traces}`,
    `converted   ${r.converted} (first time right)`,
    `repaired    ${r.repaired} (converted after a repair)`,
    `rejected    ${r.rejected}${by ? ` (${by})` : ''}`,
    `# parallel  ${r.parallel.toFixed(3)} (answer tokens / critical path)`,
    `depth       ${histogram(r.depth)} (records by deepest nesting; 0 = sequential)`,
    `width       ${histogram(r.width)} (blocks by number of paths)`,
    ...r.reasons.slice(0, LISTED_REASONS).map((x) => `  rejected ${x.id} at ${x.stage}: ${x.problem}`),
    ...(r.reasons.length > LISTED_REASONS ? [`  … ${r.reasons.length - LISTED_REASONS} more in the .rejected.jsonl file`] : []),
  ].join('\n') + '\n';
}
