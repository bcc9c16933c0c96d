/**
 * HTTP routing: the request target's form (400), Origin and Host (403, exposure.ts) and CORS
 * preflights, then the api key check for every request (a browser page load without it gets a key
 * form), then the OpenAI endpoints, health, metrics and the viewer's static files at `/`. Errors
 * are answered in OpenAI's JSON shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorization, rememberKey } from './auth.js';
import { chatDialect } from '../openai/chat-dialect.js';
import { completionsDialect } from '../openai/completions-dialect.js';
import { HttpError, sendError, sendJson } from './http-error.js';
import type { ServerContext } from '../context.js';
import { answerPreflight, exposureRefusal, setCorsHeaders } from './exposure.js';
import { handleOpenAi } from '../openai/openai-handler.js';
import { PROTOCOL_VERSION } from '../../protocol/messages.js';
import { parseRequestTarget } from './request-target.js';
import { sendKeyPage } from './key-page.js';
import { serveStatic } from './static-files.js';

type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Seconds since the epoch when the server module was loaded: `created` of the listed model. */
const CREATED = Math.floor(Date.now() / 1000);

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  '/health': {
    GET: (ctx, _req, res) => sendJson(res, 200, { status: 'ok', model: ctx.options.modelId, protocol: PROTOCOL_VERSION, device: ctx.model.info.device, kv: ctx.model.kvStats(), admission: ctx.model.admissionStats() }),
  },
  '/metrics': {
    GET: (ctx, _req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(ctx.metrics.render());
    },
  },
  '/v1/models': { GET: (ctx, _req, res) => sendJson(res, 200, { object: 'list', data: [modelEntry(ctx)] }) },
  '/v1/chat/completions': { POST: (ctx, req, res) => handleOpenAi(ctx, chatDialect, req, res) },
  '/v1/completions': { POST: (ctx, req, res) => handleOpenAi(ctx, completionsDialect, req, res) },
};

/** The `request` listener of the HTTP server. */
export function createRouter(ctx: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      const e = err instanceof HttpError ? err : undefined;
      if (e?.status === 401) res.setHeader('www-authenticate', 'Bearer');
      // The rest of an oversized body is not read: close rather than drain it.
      if (e?.status === 413) res.setHeader('connection', 'close');
      sendError(res, err);
    });
  };
}

async function route(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = parseRequestTarget(req.url);
  if (!target) {
    throw new HttpError(400, 'invalid_request_error', `malformed request target ${JSON.stringify(req.url?.slice(0, 200))}: send a path like /v1/models, each segment non-empty, % only in escapes`, null, 'invalid_target');
  }
  const refusal = exposureRefusal(req, target, ctx.options);
  if (refusal) throw new HttpError(403, 'permission_error', refusal.message, null, refusal.code);
  setCorsHeaders(req, res, ctx.options);
  const method = req.method ?? 'GET';
  // A preflight never carries the key: it is answered before the key check.
  if (method === 'OPTIONS') return answerPreflight(req, res);
  const { pathname } = target;
  const routes = ROUTES[pathname];
  // A viewer file never shadows the API.
  const viewerFile = method === 'GET' && !routes && !pathname.startsWith('/v1/');
  const auth = authorization(req, target.query, ctx.options.apiKey);
  if (auth === undefined) {
    if (viewerFile && ctx.options.viewerDir !== undefined && (req.headers.accept ?? '').includes('text/html')) return sendKeyPage(res);
    throw new HttpError(401, 'authentication_error', 'missing or wrong api key: send it as Authorization: Bearer KEY', null, 'invalid_api_key');
  }
  if (viewerFile && ctx.options.viewerDir !== undefined) {
    // The page's scripts and styles cannot carry a key from its URL: a cookie does.
    if (auth === 'query') rememberKey(res, ctx.options.apiKey!);
    if (await serveStatic(ctx.options.viewerDir, pathname, res)) return;
  }
  if (routes) {
    const handler = routes[method];
    if (!handler) {
      res.setHeader('allow', Object.keys(routes).join(', '));
      throw new HttpError(405, 'invalid_request_error', `${method} is not allowed on ${pathname}`, null, 'method_not_allowed');
    }
    return handler(ctx, req, res);
  }
  if (method === 'GET' && pathname === `/v1/models/${ctx.options.modelId}`) return sendJson(res, 200, modelEntry(ctx));
  throw new HttpError(404, 'not_found_error', `no route for ${method} ${pathname}`, null, 'not_found');
}

function modelEntry(ctx: ServerContext): object {
  return { id: ctx.options.modelId, object: 'model', created: CREATED, owned_by: 'multiverse-rx' };
}
