/**
 * Reads the JSON object out of a chat answer. Models wrap JSON in code fences or add a sentence
 * around it despite being told not to, so the object is taken from the first `{` to the last `}`.
 */

/** The object of `reply`, or a problem to send back when there is none. */
export function jsonObject(reply: string): { value: Record<string, unknown> } | { problems: string[] } {
  const start = reply.indexOf('{');
  const end = reply.lastIndexOf('}');
  if (start < 0 || end < start) return { problems: ['the answer holds no JSON object'] };
  let value: unknown;
  try {
    value = JSON.parse(reply.slice(start, end + 1));
  } catch (err) {
    return { problems: [`the answer is not valid JSON: ${(err as Error).message}`] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problems: ['the answer is not a JSON object'] };
  return { value: value as Record<string, unknown> };
}
