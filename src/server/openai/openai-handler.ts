/**
 * Serves one OpenAI request (chat or completions, by dialect): reads and checks it completely
 * before anything is written, so every bad request gets its 4xx status; then runs its choices and
 * answers with one JSON body, or streams SSE chunks ending with `data: [DONE]` (a usage chunk
 * before it when `stream_options.include_usage`). A client that goes away cancels the request.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GenerateOptions } from '../../engine/generate-options.js';
import type { ServedModel } from '../served-model.js';
import type { TokenEvent } from '../../rx/events.js';
import { promptTokens, type GenerateInput } from '../../engine/prompt-tokens.js';
import { resolveModelOptions } from '../../rx/generate.js';
import { runChoices, type ChoiceEvent } from './choices.js';
import { badParam, sendError, sendJson, toHttpError } from '../http/http-error.js';
import { readJsonBody } from '../http/http-body.js';
import type { ServerContext } from '../context.js';
import type { Dialect, LogprobEntry } from './openai-dialect.js';
import { logprobEntry } from './openai-logprobs.js';
import { fieldOf, parseCommon } from './openai-params.js';
import { describeBreach, findLimitBreach, requestLimits } from '../request-limits.js';
import { SseWriter } from './sse.js';
import { shuttingDown } from '../drain.js';

/** @throws HttpError or GenerationError for a request that fails before its response starts. */
export async function handleOpenAi(ctx: ServerContext, dialect: Dialect, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { model, options: server } = ctx;
  const body = await readJsonBody(req, server.maxBodyBytes);
  const { n, stream, includeUsage, options: common } = parseCommon(body, server.modelId, server.maxChoices, dialect.defaultMaxTokens);
  const input = dialect.parse(body);
  const asked: GenerateOptions = { ...common, raw: input.raw, ...(input.topLogprobs !== undefined ? { topLogprobs: input.topLogprobs } : {}) };
  const breach = findLimitBreach(asked, requestLimits(ctx));
  if (breach) {
    const field = fieldOf(breach.option, body, dialect.topLogprobsField);
    throw badParam(field, describeBreach(breach, field));
  }
  const options = server.prepareOptions?.(asked, dialect.source) ?? asked;
  resolveModelOptions(model, options);
  const prompt = await promptTokens(model, input.input, { raw: input.raw }, model.info.contextLength - 1);
  const echo = input.echo ? await echoOf(model, input.input, prompt, input.topLogprobs) : { text: '', logprobs: null };
  const choices = Array.from({ length: n }, () => new ChoiceText(model, echo.text, echo.logprobs, input.topLogprobs !== undefined));
  const head = { id: `${dialect.idPrefix}${randomUUID()}`, object: dialect.object, created: Math.floor(Date.now() / 1000), model: server.modelId };
  const usage = () => {
    const completion = choices.reduce((sum, c) => sum + c.completionTokens, 0);
    return { prompt_tokens: prompt.length, completion_tokens: completion, total_tokens: prompt.length + completion };
  };
  const chunk = (sse: SseWriter, choicesOut: object[], extra: object = {}) =>
    sse.send({ ...head, object: dialect.chunkObject, choices: choicesOut, ...(includeUsage ? { usage: null } : {}), ...extra });

  // The stream starts with the request's first event, once it holds its KV: a request refused by
  // admission (queue full) still gets its plain 429 with Retry-After, before any byte of a stream.
  let sse: SseWriter | undefined;
  const startStream = () => {
    if (!stream || sse) return;
    sse = new SseWriter(res);
    for (let i = 0; i < n; i++) {
      const opening = dialect.opening(i, echo.text, echo.logprobs);
      if (opening) chunk(sse, [opening]);
    }
  };
  const onEvent = (e: ChoiceEvent) => {
    startStream();
    const choice = choices[e.choice];
    if (e.kind === 'token') {
      const entry = choice.add(e.token);
      if (sse && (e.token.text || entry)) chunk(sse, [dialect.chunkChoice(e.choice, e.token.text, entry ? [entry] : null, null)]);
      return;
    }
    choice.end(e);
    if (sse) chunk(sse, [{ ...dialect.chunkChoice(e.choice, e.tail, null, e.finishReason), multiverse: { tree: e.tree } }]);
  };

  // Gone while the prompt was being read or scored: nothing to answer.
  if (req.socket.destroyed) return;
  if (ctx.drain.closing) throw shuttingDown('takes no new requests');
  ctx.metrics.requestStarted(dialect.source);
  let settled = false;
  const settle = (outcome: 'done' | 'error' | 'cancelled') => {
    settled = true;
    untrack();
    ctx.metrics.requestEnded(dialect.source, outcome);
  };
  // Past the drain timeout: a stream gets the error and [DONE]; a request not streaming yet, a 503.
  const untrack = ctx.drain.track({
    shutDown: () => {
      settle('error');
      subscription.unsubscribe();
      const ended = new Promise<void>((resolve) => res.once('close', resolve).once('finish', resolve));
      const err = shuttingDown('the request did not finish within the drain timeout');
      if (!sse) sendError(res, err);
      else {
        sse.send(err);
        sse.done();
      }
      return ended;
    },
  });
  const subscription = runChoices(model, prompt, options, n, ctx.metrics).subscribe({
    next: onEvent,
    error: (err: unknown) => {
      settle('error');
      if (!sse) return sendError(res, err);
      sse.send(toHttpError(err));
      sse.end();
    },
    complete: () => {
      settle('done');
      startStream();
      if (!sse) {
        const out = choices.map((c, i) => ({ ...dialect.choice(i, c.text, c.logprobs, c.finishReason!), multiverse: { tree: c.tree } }));
        return sendJson(res, 200, { ...head, choices: out, usage: usage() });
      }
      if (includeUsage) chunk(sse, [], { usage: usage() });
      sse.done();
    },
  });
  // The client went away before the end: stop generating and free the KV.
  res.on('close', () => {
    if (settled) return;
    settle('cancelled');
    subscription.unsubscribe();
  });
}

/** One choice's text and logprobs as they grow (the echoed prompt first). */
class ChoiceText {
  text: string;
  readonly logprobs: LogprobEntry[] | null;
  completionTokens = 0;
  finishReason?: Extract<ChoiceEvent, { kind: 'end' }>['finishReason'];
  tree?: Extract<ChoiceEvent, { kind: 'end' }>['tree'];

  constructor(
    private readonly model: ServedModel,
    echoText: string,
    echoLogprobs: LogprobEntry[] | null,
    wantLogprobs: boolean,
  ) {
    this.text = echoText;
    this.logprobs = wantLogprobs ? [...(echoLogprobs ?? [])] : null;
  }

  /** Appends a token; returns its logprob entry when logprobs were asked for. */
  add(token: TokenEvent): LogprobEntry | undefined {
    const entry = this.logprobs ? logprobEntry(this.model.tokenizer, token.tokenId, token.logprob, token.topLogprobs, this.text.length) : undefined;
    if (entry) this.logprobs!.push(entry);
    this.text += token.text;
    return entry;
  }

  end(e: Extract<ChoiceEvent, { kind: 'end' }>): void {
    this.text += e.tail;
    this.completionTokens = e.completionTokens;
    this.finishReason = e.finishReason;
    this.tree = e.tree;
  }
}

/** The prompt as echoed: its text, and its tokens' logprobs (scored by the model) when asked for. */
async function echoOf(model: ServedModel, input: GenerateInput, prompt: number[], topLogprobs: number | undefined): Promise<{ text: string; logprobs: LogprobEntry[] | null }> {
  const text = typeof input === 'string' ? input : model.tokenizer.decode(prompt);
  if (topLogprobs === undefined) return { text, logprobs: null };
  // Scoring needs two tokens; a one-token prompt has only the first, which has no logprob.
  const scored = prompt.length > 1 ? (await model.score(prompt, { topLogprobs })).tokens : [{ tokenId: prompt[0], logprob: undefined, topLogprobs: undefined }];
  let offset = 0;
  return {
    text,
    logprobs: scored.map((t) => {
      const entry = logprobEntry(model.tokenizer, t.tokenId, t.logprob, t.topLogprobs, offset);
      offset += entry.token.length;
      return entry;
    }),
  };
}
