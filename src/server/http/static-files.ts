/**
 * The viewer hook: the built viewer's files of `viewerDir` served at `/`: `index.html` (also at
 * `/`), `style.css`, the page's compiled modules `dist/viewer/src/*.js` and the package modules it
 * runs, compiled beside them (`dist/src/…`, listed one by one). Nothing else of the folder (its
 * tsconfig files, TypeScript sources, source maps) and nothing outside it is reachable; without a
 * folder every path is a 404.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

/** The paths served; none can leave the folder (no `..`, no `%`). */
const ASSET = /^\/(?:index\.html|style\.css|dist\/viewer\/src\/[A-Za-z0-9_-]+\.js)?$/;
/** The package's modules the page imports (viewer/tsconfig.shared.json compiles them). */
const SHARED = new Set(['/dist/src/rx/branch-tree.js', '/dist/src/engine/branch-path.js']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Answers with the asset at `pathname` (as sent, escapes kept); false (nothing written) when there is none. */
export async function serveStatic(dir: string | undefined, pathname: string, res: ServerResponse): Promise<boolean> {
  if (dir === undefined || !(ASSET.test(pathname) || SHARED.has(pathname))) return false;
  const file = path.join(path.resolve(dir), pathname === '/' ? 'index.html' : pathname.slice(1));
  const data = await fs.readFile(file).catch(() => undefined);
  if (!data) return false;
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)], 'content-length': data.length });
  res.end(data);
  return true;
}
