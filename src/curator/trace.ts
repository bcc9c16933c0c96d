/**
 * The curator's input: one reasoning trace per JSONL line.
 *
 *   {"id": "gsm-17", "question": "Compute 37*4+12*9", "reasoning": "1: 37*4=...\n2: ...\n148+108=256\nAnswer: 256", "answer": "256"}
 *
 * id         string (or number)  unique in the file; the key that --resume skips done traces by
 * question   string              the prompt the model was given (`prompt` is accepted as a synonym)
 * reasoning  string              the model's sequential chain of thought; one step per line
 * answer     string (or number)  the final answer; the converted text must state it after its last block
 *
 * The original steps that coverage checks are the reasoning's non-empty lines.
 */

export interface Trace {
  id: string;
  question: string;
  reasoning: string;
  answer: string;
}

/** A line of the input that is not a trace; `line` counts from 1. */
export class TraceFormatError extends Error {
  override readonly name = 'TraceFormatError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

function textField(record: Record<string, unknown>, names: readonly string[], line: number, numberAllowed: boolean): string {
  for (const name of names) {
    const value = record[name];
    if (typeof value === 'string' && value.trim() !== '') return value;
    if (numberAllowed && typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  throw new TraceFormatError(line, `needs a non-empty ${names.join(' or ')}${numberAllowed ? ' (string or number)' : ' string'}`);
}

/** The traces of a JSONL file's text; blank lines are skipped. @throws TraceFormatError on a bad line or a repeated id. */
export function parseTraces(text: string): Trace[] {
  const traces: Trace[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (err) {
      throw new TraceFormatError(i + 1, `not JSON: ${(err as Error).message}`);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new TraceFormatError(i + 1, 'not a JSON object');
    const fields = record as Record<string, unknown>;
    const trace: Trace = {
      id: textField(fields, ['id'], i + 1, true),
      question: textField(fields, ['question', 'prompt'], i + 1, false),
      reasoning: textField(fields, ['reasoning'], i + 1, false),
      answer: textField(fields, ['answer'], i + 1, true).trim(),
    };
    if (seen.has(trace.id)) throw new TraceFormatError(i + 1, `id ${JSON.stringify(trace.id)} appears twice`);
    seen.add(trace.id);
    traces.push(trace);
  });
  return traces;
}

/** The original steps: the reasoning's non-empty lines, trimmed. */
export function originalSteps(reasoning: string): string[] {
  return reasoning
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}
