/**
 * The rule-based converter from a sequential chain (chain.ts) to the Multiverse format, in the
 * layout our own models use (no text between `</Goal>`, `<Path>`, `</Path>` and `<Conclusion>`):
 *
 *   <Parallel><Goal><Outline>1: 37*4</Outline><Outline>2: 12*9</Outline></Goal>
 *   <Path>1: 37*4=...=148</Path><Path>2: 12*9=...=108</Path>
 *   <Conclusion>148+108=256</Conclusion></Parallel>
 *   Answer: 256
 *
 * (one line here for reading; the real text has no line breaks inside the block). The rules:
 * labelled steps at one level (`1:`, `2:`, … or `2.1:`, `2.2:`, …) are independent, so two or
 * more of them become the paths of a block; the unlabelled step after them (or, in a group, the
 * step under the group's own label) combines them and becomes the conclusion. A group's header
 * step opens a path holding a nested block. A chain with fewer than two top-level parts stays
 * sequential, unchanged.
 */

/** A labelled step of the chain and, for a group, the steps nested under it. */
interface Step {
  label: string;
  text: string;
  group?: Level;
}

/** The independent steps of one level and the step that combines them. */
interface Level {
  steps: Step[];
  combine: string;
}

/** Thrown for a chain that does not follow chain.ts's line grammar. */
export class ChainFormatError extends Error {
  override readonly name = 'ChainFormatError';
}

function splitLabel(line: string): { label: string | undefined; text: string } {
  const m = /^(\d+(?:\.\d+)*): (.*)$/.exec(line);
  return m === null ? { label: undefined, text: line } : { label: m[1], text: m[2] };
}

/** Whether `label` names a step directly under `prefix` ('' for the top): `3` under '', `2.1` under `2`. */
function isChildOf(label: string | undefined, prefix: string): boolean {
  if (label === undefined) return false;
  const rest = prefix === '' ? label : label.startsWith(`${prefix}.`) ? label.slice(prefix.length + 1) : '';
  return /^\d+$/.test(rest);
}

/** Reads the level under `prefix` ('' for the top) starting at lines[at]; returns it and where it ended. */
function readLevel(lines: readonly string[], at: number, prefix: string): { level: Level; next: number } {
  const steps: Step[] = [];
  let i = at;
  while (i < lines.length) {
    const { label, text } = splitLabel(lines[i]);
    if (!isChildOf(label, prefix)) break;
    const step: Step = { label: label as string, text };
    i++;
    if (i < lines.length && splitLabel(lines[i]).label?.startsWith(`${step.label}.`)) {
      const inner = readLevel(lines, i, step.label);
      step.group = inner.level;
      i = inner.next;
    }
    steps.push(step);
  }
  const combine = lines[i] === undefined ? undefined : splitLabel(lines[i]);
  const expected = prefix === '' ? undefined : prefix;
  if (combine === undefined || combine.label !== expected) {
    throw new ChainFormatError(`line ${i + 1}: expected the combining step${prefix === '' ? '' : ` labelled ${prefix}`}`);
  }
  return { level: { steps, combine: combine.text }, next: i + 1 };
}

/** The outline of a step: what its path computes (a product's expression, a group's header). */
function outline(step: Step): string {
  return step.group === undefined ? step.text.split('=')[0] : step.text;
}

function renderBlock(level: Level): string {
  if (level.steps.length < 2) throw new ChainFormatError(`a group needs at least two parts, got ${level.steps.length}`);
  const outlines = level.steps.map((s) => `<Outline>${s.label}: ${outline(s)}</Outline>`).join('');
  const paths = level.steps
    .map((s) => `<Path>${s.label}: ${s.text}${s.group === undefined ? '' : renderBlock(s.group)}</Path>`)
    .join('');
  return `<Parallel><Goal>${outlines}</Goal>${paths}<Conclusion>${level.combine}</Conclusion></Parallel>`;
}

/**
 * Converts a sequential chain to the Multiverse format. The last line (the answer) is kept as is.
 * @throws ChainFormatError when the chain does not follow chain.ts's grammar.
 */
export function toMultiverse(chain: string): string {
  const lines = chain.split('\n');
  const answer = lines[lines.length - 1];
  const work = lines.slice(0, -1);
  if (splitLabel(work[0] ?? '').label === undefined) return chain;
  const { level, next } = readLevel(work, 0, '');
  if (next !== work.length) throw new ChainFormatError(`line ${next + 1}: unexpected step after the combination`);
  if (level.steps.length < 2) return chain;
  return `${renderBlock(level)}\n${answer}`;
}
