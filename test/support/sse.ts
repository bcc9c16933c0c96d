/** Raw HTTP helpers for server tests: POST a JSON body and read an SSE stream's `data:` payloads. */

/** POSTs `body` as JSON to `url`. */
export function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Every `data:` payload of an SSE body, in order: parsed JSON, or the string '[DONE]'. */
export async function sseData(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}
