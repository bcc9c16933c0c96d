/**
 * A loopback OpenAI-compatible chat server for the curator's tests: `POST /v1/chat/completions`
 * answered by a function of the request, which may also ask for a fault (an HTTP status with
 * headers, or a connection dropped without an answer). Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
}

/** An answer's content, or a fault. */
export type Reply = { content: string } | { status: number; headers?: Record<string, string>; body?: string } | { drop: true };

export interface ChatServer {
  /** The API root to give the client: `http://127.0.0.1:PORT/v1`. */
  endpoint: string;
  /** Every request in arrival order, with the time it arrived (ms) and its Authorization header. */
  requests: { body: ChatRequest; at: number; reply: Reply; authorization?: string }[];
  close(): Promise<void>;
}

export function chatBody(content: string): string {
  return JSON.stringify({
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 0,
    model: 'scripted',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });
}

export async function startChatServer(answer: (request: ChatRequest) => Reply | Promise<Reply>): Promise<ChatServer> {
  const requests: ChatServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
          res.writeHead(404).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
        const reply = await answer(body);
        requests.push({ body, at: performance.now(), reply, authorization: req.headers.authorization });
        if ('drop' in reply) req.socket.destroy();
        else if ('content' in reply) res.writeHead(200, { 'content-type': 'application/json' }).end(chatBody(reply.content));
        else res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(reply.body ?? '{"error":{"message":"scripted fault"}}');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The stage a request belongs to, read from its prompt's version line (`curator-steps/1` → `steps`). */
export function stageOf(request: ChatRequest): string {
  return /^version: curator-(\w+)\//m.exec(request.messages[0].content)?.[1] ?? '';
}

/** The question of a request (every stage sends it in its JSON user message). */
export function questionOf(request: ChatRequest): string {
  return (JSON.parse(request.messages[1].content) as { question: string }).question;
}

/** How many answers the conversation already holds: 0 for a first ask, 1 after one repair message. */
export function attemptOf(request: ChatRequest): number {
  return request.messages.filter((m) => m.role === 'assistant').length;
}
