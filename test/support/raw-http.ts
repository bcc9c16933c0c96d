/**
 * Raw HTTP over a TCP socket to 127.0.0.1, for requests no HTTP client would send (malformed
 * targets, broken cookies, odd upgrade headers): the bytes go out exactly as given.
 */
import net from 'node:net';

export interface RawAnswer {
  /** Everything the server wrote before it closed the socket or the time ran out. */
  text: string;
  /** The status code of the first response line; undefined when nothing parsable came back. */
  status: number | undefined;
  /** True when the server ended or destroyed the socket by itself within the time. */
  closedByServer: boolean;
}

/** Sends `request` to 127.0.0.1:port and collects the answer for at most `timeoutMs`. */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 1000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ text, status: status === undefined ? undefined : Number(status), closedByServer });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

/** A GET request for `target`; `headers` add to or replace Host and Connection: close. */
export function getRequest(target: string, headers: Record<string, string> = {}): string {
  const all = { Host: '127.0.0.1', Connection: 'close', ...headers };
  const lines = [`GET ${target} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The headers of a WebSocket upgrade (RFC 6455's sample key). */
export const UPGRADE_HEADERS = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
};
