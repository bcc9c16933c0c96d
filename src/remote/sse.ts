/**
 * Server-sent events as OpenAI-compatible servers stream them: the `data:` payload of each event,
 * in order, until `data: [DONE]` or the end of the body. Comments (`: ping`) and other fields are
 * skipped; a payload split over several `data:` lines is joined with newlines, as the SSE spec says.
 */

/** The data payloads of an SSE body; stops at `[DONE]`. */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    // Events end with a blank line; servers may use \r\n.
    let end: RegExpExecArray | null;
    while ((end = /\r?\n\r?\n/.exec(buffer))) {
      const data = dataOf(buffer.slice(0, end.index));
      buffer = buffer.slice(end.index + end[0].length);
      if (data === '[DONE]') return;
      if (data !== undefined) yield data;
    }
  }
  const last = dataOf(buffer + decoder.decode());
  if (last !== undefined && last !== '[DONE]') yield last;
}

/** The data of one event block, or undefined when it has none. */
function dataOf(block: string): string | undefined {
  const lines = block.split(/\r?\n/).filter((l) => l.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
}
