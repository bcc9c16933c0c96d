/**
 * The viewer hook: files of `viewerDir` served at `/` (a folder's `index.html` for its path).
 * Nothing outside the folder is reachable; without a folder every path is a 404.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Answers with the file at `pathname`; false (nothing written) when there is none. */
export async function serveStatic(dir: string | undefined, pathname: string, res: ServerResponse): Promise<boolean> {
  if (dir === undefined) return false;
  const root = path.resolve(dir);
  let file: string;
  try {
    file = path.resolve(root, `.${decodeURIComponent(pathname)}`);
  } catch {
    return false; // a malformed %-escape names no file
  }
  if (file !== root && !file.startsWith(root + path.sep)) return false;
  const stat = await fs.stat(file).catch(() => undefined);
  if (stat?.isDirectory()) file = path.join(file, 'index.html');
  const data = await fs.readFile(file).catch(() => undefined);
  if (!data) return false;
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': data.length });
  res.end(data);
  return true;
}
