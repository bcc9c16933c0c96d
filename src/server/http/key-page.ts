/**
 * What a browser gets for a page load without the key on a server that needs one: a 401 with a
 * small form that reloads the page with `?api_key=` (no external assets, nothing of the viewer).
 */
import type { ServerResponse } from 'node:http';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>multiverse-rx · api key</title>
<style>body{font:15px system-ui,sans-serif;margin:4rem auto;max-width:26rem;color:#1f2430}
input,button{font:inherit;padding:.45rem .6rem}button{margin-left:.4rem}</style></head>
<body><h1>multiverse-rx</h1><p id="need">This server needs an api key.</p>
<form method="get"><input id="key" name="api_key" type="password" placeholder="api key" autofocus required><button id="go">Open</button></form>
</body></html>
`;

export function sendKeyPage(res: ServerResponse): void {
  res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'www-authenticate': 'Bearer' });
  res.end(PAGE);
}
