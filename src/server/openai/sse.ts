/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the
 * end. Writes after the client has gone are dropped.
 */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
  }

  /** One event carrying `value` as JSON. */
  send(value: unknown): void {
    this.write(`data: ${JSON.stringify(value)}\n\n`);
  }

  /** The `[DONE]` sentinel, then the end of the response. */
  done(): void {
    this.write('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  private write(data: string): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(data);
  }
}
