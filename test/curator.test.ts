/**
 * The curator against a local OpenAI-compatible server playing recorded answers, broken ones
 * included: unparseable JSON, missing steps, unknown ids, malformed plans, wrong outline counts,
 * cross-path references, 429s with Retry-After, 500s and a dropped connection. Every stage's
 * validation and repair path runs, and the output is the same at any concurrency.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DoneEvent } from '../src/index.js';
import { createServer } from '../src/server/index.js';
import { ChatClient } from '../src/curator/chat-client.js';
import { CurateError } from '../src/curator/errors.js';
import { loadPrompts, type Prompts } from '../src/curator/prompts.js';
import type { CuratedRecord, RejectedRecord } from '../src/curator/record.js';
import { curate, readOutputs, rejectedPath } from '../src/curator/run.js';
import { loadTokenizer, type Tokenizer } from '../src/model/tokenizer.js';
import { MULTIVERSE_TAGS } from '../src/multiverse/tags.js';
import { buildTokenizerFiles, writeTokenizerFiles } from '../src/testkit/tokenizer-files.js';
import { attemptOf, questionOf, stageOf, startChatServer, type ChatServer } from './support/chat-server.js';
import { CROSSED_PLAN, HIDDEN_USE, missingStep, scriptedAnswers, shopText, shopTrace, type Scenario } from './support/shop-script.js';

const UNPARSEABLE = 'Sure! Here are the steps: {"steps": [{"id": "s1", "text": "The pens}';

const scenarios: (Scenario | undefined)[] = [
  /* 0 */ undefined,
  /* 1 */ { answers: { steps: { 0: UNPARSEABLE } } },
  /* 2 */ { answers: { steps: { 0: missingStep(2), 1: missingStep(2) } } },
  /* 3 */ { answers: { dependencies: { 0: '{"uses": {"s1": [], "s2": [], "s3": ["s1", "s2"], "s4": ["s3"], "s9": []}}' } } },
  /* 4 */ { answers: { blocks: { 0: '{"plan": [{"paths": [["s1", "s2"]], "conclusion": ["s3"]}, "s4"]}' } } },
  /* 5 */ { answers: { outlines: { 0: '{"blocks": []}' } } },
  /* 6 */ { answers: { dependencies: { 0: HIDDEN_USE }, blocks: { 0: CROSSED_PLAN } } },
  /* 7 */ { answers: { dependencies: { 0: HIDDEN_USE }, blocks: { 0: CROSSED_PLAN, 1: CROSSED_PLAN } } },
  /* 8 */ {
    faults: {
      steps: [{ status: 429, headers: { 'retry-after': '1' }, body: '{"error":{"message":"rate limited"}}' }],
      dependencies: [{ status: 500 }, { status: 503 }],
      blocks: [{ drop: true }],
    },
  },
];

/** The Multiverse layout of a shop record, by hand: both paths start right after `</Goal>`, the conclusion after the longer one. */
function expectShopLayout(r: CuratedRecord, tokenizer: Tokenizer): void {
  const id = (text: string) => tokenizer.tokenId(text) as number;
  expect(tokenizer.decode(r.ids.slice(r.prompt_len))).toBe(`${r.text}<|im_end|>`);
  expect(r.loss_mask).toEqual(r.ids.map((_, i) => (i < r.prompt_len ? 0 : 1)));
  const goalClose = r.ids.indexOf(id('</Goal>'));
  const opens = r.ids.flatMap((t, i) => (t === id('<Path>') ? [i] : []));
  const closes = r.ids.flatMap((t, i) => (t === id('</Path>') ? [i] : []));
  const longest = Math.max(...opens.map((o, p) => closes[p] - o + 1));
  expect(opens.map((o) => r.positions[o])).toEqual([r.positions[goalClose] + 1, r.positions[goalClose] + 1]);
  expect(r.positions[r.ids.indexOf(id('<Conclusion>'))]).toBe(r.positions[goalClose] + 1 + longest);
  expect(r.path_span.slice(opens[1], closes[1] + 1).every((s) => s === 1)).toBe(true);
  expect(r.span_parent).toEqual([-1, -1]);
  expect(r.span_block).toEqual([0, 0]);
}

describe('multiverse curate against recorded answers', () => {
  let server: ChatServer;
  let prompts: Prompts;
  let tokenizer: Tokenizer;
  let dir: string;
  const traces = scenarios.map((_, n) => shopTrace(n));

  beforeAll(async () => {
    server = await startChatServer(scriptedAnswers(scenarios));
    prompts = loadPrompts('prompts/curator');
    tokenizer = await loadTokenizer('models/multiverse-arith');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curator-'));
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (out: string, concurrency: number) =>
    curate({
      traces,
      out,
      resume: false,
      chat: new ChatClient({ endpoint: server.endpoint, model: 'scripted-llm', baseDelayMs: 20 }),
      prompts,
      tokenizer,
      concurrency,
    });

  it('converts, repairs and rejects each trace as its answers deserve, and reports it', async () => {
    const out = path.join(dir, 'c4.jsonl');
    const report = await run(out, 4);
    const { records, rejected } = readOutputs(out);

    expect(records.map((r) => r.id)).toEqual(['shop-0', 'shop-1', 'shop-3', 'shop-4', 'shop-5', 'shop-6', 'shop-8']);
    for (const r of records) expect(r.text).toBe(shopText(Number(r.id.slice(5))));
    expect(records.filter((r) => r.curator?.status === 'converted').map((r) => r.id)).toEqual(['shop-0', 'shop-8']);
    expect(rejected.map((r) => [r.id, r.stage])).toEqual([
      ['shop-2', 'steps'],
      ['shop-7', 'verify/independence'],
    ]);
    expect(rejected[0].problems).toEqual([`the reasoning's line ${JSON.stringify(shopTrace(2).reasoning.split('\n')[1])} is in no step`]);
    expect(rejected[1].problems).toEqual(['block 1: path 2 mentions 54, a result computed in sibling path 1']);

    expect(report).toMatchObject({ traces: 9, converted: 2, repaired: 5, rejected: 2, rejectedBy: { steps: 1, 'verify/independence': 1 }, depth: { 1: 7 }, width: { 2: 7 } });
    // Every record has one block of two paths; # parallel is answer tokens over the critical path.
    const ratio = (r: CuratedRecord) => {
      const pos = r.positions.slice(r.prompt_len);
      return { tokens: pos.length, critical: Math.max(...pos) - pos[0] + 1 };
    };
    const sums = records.map(ratio).reduce((a, b) => ({ tokens: a.tokens + b.tokens, critical: a.critical + b.critical }));
    expect(report.parallel).toBeCloseTo(sums.tokens / sums.critical, 10);
    expect(report.parallel).toBeGreaterThan(1);
  });

  it('sends each broken answer back with its specific problem', () => {
    const repairOf = (n: number, stage: string) => {
      const request = server.requests.find((r) => questionOf(r.body) === shopTrace(n).question && stageOf(r.body) === stage && attemptOf(r.body) === 1);
      return request?.body.messages.at(-1)?.content ?? '';
    };
    expect(repairOf(1, 'steps')).toMatch(/- the answer is not valid JSON/);
    expect(repairOf(2, 'steps')).toContain(`- the reasoning's line "The notebooks cost 6*5 = 30 dollars." is in no step`);
    expect(repairOf(3, 'dependencies')).toContain('- "uses" names an unknown step s9');
    expect(repairOf(4, 'blocks')).toContain('- plan, item 1: a block needs "paths" with two or more paths');
    expect(repairOf(5, 'outlines')).toContain('- "blocks" must list 1 block(s), one per block, in order');
    // The verification's finding goes back to the blocks stage, after its first plan.
    const crossed = repairOf(6, 'blocks');
    expect(crossed).toContain('- block 1: path 2 mentions 48, a result computed in sibling path 1');
    const conversation = server.requests.find((r) => questionOf(r.body) === shopTrace(6).question && stageOf(r.body) === 'blocks' && attemptOf(r.body) === 1)?.body.messages;
    expect(conversation?.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(conversation?.[2].content).toBe(CROSSED_PLAN);
    for (const { body } of server.requests) {
      expect(body.temperature).toBe(0);
      expect(body.model).toBe('scripted-llm');
    }
  });

  it('retries 429 after its Retry-After, 500s and a dropped connection without counting them as repairs', () => {
    const of8 = server.requests.filter((r) => questionOf(r.body) === shopTrace(8).question);
    const byStage = (stage: string) => of8.filter((r) => stageOf(r.body) === stage);
    expect(byStage('steps').map((r) => ('status' in r.reply ? r.reply.status : 'answer'))).toEqual([429, 'answer']);
    expect(byStage('steps')[1].at - byStage('steps')[0].at).toBeGreaterThanOrEqual(950);
    expect(byStage('dependencies').map((r) => ('status' in r.reply ? r.reply.status : 'answer'))).toEqual([500, 503, 'answer']);
    expect(byStage('blocks').map((r) => ('drop' in r.reply ? 'drop' : 'answer'))).toEqual(['drop', 'answer']);
  });

  it('writes the same files at concurrency 1 as at concurrency 4', async () => {
    const out = path.join(dir, 'c1.jsonl');
    await run(out, 1);
    expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync(path.join(dir, 'c4.jsonl'), 'utf8'));
    expect(fs.readFileSync(rejectedPath(out), 'utf8')).toBe(fs.readFileSync(rejectedPath(path.join(dir, 'c4.jsonl')), 'utf8'));
  });

  it('writes training records whose paths start at one position and whose conclusion follows the longest path', () => {
    for (const r of readOutputs(path.join(dir, 'c4.jsonl')).records) expectShopLayout(r, tokenizer);
  });

  it('writes the records with any tokenizer that has the tags, and refuses one without them', async () => {
    const other = path.join(dir, 'bpe-1024');
    const files = buildTokenizerFiles(1024);
    fs.mkdirSync(other);
    writeTokenizerFiles(other, files);
    const bigger = await loadTokenizer(other);
    const out = path.join(dir, 'bpe-1024.jsonl');
    const chat = new ChatClient({ endpoint: server.endpoint, model: 'scripted-llm' });
    await curate({ traces: traces.slice(0, 1), out, resume: false, chat, prompts, tokenizer: bigger });
    const [record] = readOutputs(out).records;
    expectShopLayout(record, bigger);
    const [before] = readOutputs(path.join(dir, 'c4.jsonl')).records;
    expect(record.text).toBe(before.text);
    expect(record.ids).not.toEqual(before.ids);

    const bare = path.join(dir, 'no-tags');
    const tags = new Set<string>(MULTIVERSE_TAGS);
    const json = files.tokenizerJson as { added_tokens: { content: string }[] };
    fs.mkdirSync(bare);
    writeTokenizerFiles(bare, { ...files, tokenizerJson: { ...json, added_tokens: json.added_tokens.filter((t) => !tags.has(t.content)) } });
    const run = curate({ traces, out: path.join(dir, 'no-tags.jsonl'), resume: false, chat, prompts, tokenizer: await loadTokenizer(bare) });
    await expect(run).rejects.toMatchObject({ code: 'TOKENIZER_ERROR' });
  });

  it('refuses to overwrite an earlier run without resume', async () => {
    await expect(run(path.join(dir, 'c4.jsonl'), 2)).rejects.toThrow(new CurateError('OUTPUT_ERROR', `${path.join(dir, 'c4.jsonl')} exists: pass --resume to continue it, or remove it`));
  });
});

describe('ChatClient', () => {
  it('gets the same answer from the embedded server (createServer) as the model gives in process', async () => {
    const model = await loadModel('models/multiverse-arith');
    const server = createServer(model, { port: 0, modelId: 'arith' });
    try {
      const { url } = await server.listen();
      const messages = [{ role: 'user', content: 'Compute 37*4+(12*9+85*3)' }];
      const done = (await lastValueFrom(model.events(messages, { temperature: 0 }))) as DoneEvent;
      expect(done.text).toContain('<Parallel>');
      expect(await new ChatClient({ endpoint: `${url}/v1`, model: 'arith' }).complete(messages)).toBe(done.text);
    } finally {
      await server.close();
      await model.dispose();
    }
  });

  it('reads the test server as the official openai client does', async () => {
    const server = await startChatServer(() => ({ content: '{"ok": true}' }));
    try {
      const official = new OpenAI({ baseURL: server.endpoint, apiKey: 'unused', maxRetries: 0 });
      const res = await official.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 });
      const ours = await new ChatClient({ endpoint: server.endpoint, model: 'm' }).complete([{ role: 'user', content: 'hi' }]);
      expect(ours).toBe(res.choices[0].message.content);
      expect(server.requests[1].body).toEqual(server.requests[0].body);
    } finally {
      await server.close();
    }
  });

  it('does not retry a refused request, and gives up on a failing endpoint after its attempts', async () => {
    let status = 401;
    const server = await startChatServer(() => ({ status }));
    try {
      const client = new ChatClient({ endpoint: server.endpoint, model: 'm', maxAttempts: 3, baseDelayMs: 5 });
      const refused = await client.complete([{ role: 'user', content: 'hi' }]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CurateError);
      expect((refused as CurateError).code).toBe('ENDPOINT_REFUSED');
      expect(server.requests).toHaveLength(1);
      status = 502;
      const unavailable = await client.complete([{ role: 'user', content: 'hi' }]).catch((e: unknown) => e);
      expect((unavailable as CurateError).code).toBe('ENDPOINT_UNAVAILABLE');
      expect((unavailable as CurateError).message).toMatch(/no answer after 3 attempts; last: HTTP 502/);
      expect(server.requests).toHaveLength(4);
    } finally {
      await server.close();
    }
  });

  it('rejects a trace whose request does not fit the model\'s context, and goes on with the others', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curator-'));
    const answer = scriptedAnswers([undefined, undefined, undefined]);
    const tooLong = '{"error": {"message": "This model\'s maximum context length is 8192 tokens", "type": "invalid_request_error", "code": "context_length_exceeded"}}';
    const server = await startChatServer((request) =>
      questionOf(request) === shopTrace(1).question && stageOf(request) === 'blocks' ? { status: 400, body: tooLong } : answer(request),
    );
    try {
      const out = path.join(dir, 'out.jsonl');
      const report = await curate({
        traces: [shopTrace(0), shopTrace(1), shopTrace(2)],
        out,
        resume: false,
        chat: new ChatClient({ endpoint: server.endpoint, model: 'm', baseDelayMs: 5 }),
        prompts: loadPrompts('prompts/curator'),
        tokenizer: await loadTokenizer('models/multiverse-arith'),
      });
      expect(report).toMatchObject({ converted: 2, rejected: 1, rejectedBy: { context: 1 } });
      expect(readOutputs(out).rejected).toEqual([
        { id: 'shop-1', stage: 'context', problems: [`${server.endpoint}/chat/completions: the prompt does not fit the model's context (HTTP 400): This model's maximum context length is 8192 tokens`] },
      ]);
      expect(server.requests.filter((r) => stageOf(r.body) === 'blocks' && questionOf(r.body) === shopTrace(1).question)).toHaveLength(1);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops a run on an endpoint that fails for good, leaving the records written so far', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curator-'));
    const answer = scriptedAnswers([undefined, undefined]);
    // The second trace's endpoint calls all fail.
    const server = await startChatServer((request) => (questionOf(request) === shopTrace(1).question ? { status: 500 } : answer(request)));
    try {
      const out = path.join(dir, 'out.jsonl');
      const run = curate({
        traces: [shopTrace(0), shopTrace(1)],
        out,
        resume: false,
        chat: new ChatClient({ endpoint: server.endpoint, model: 'm', maxAttempts: 2, baseDelayMs: 5 }),
        prompts: loadPrompts('prompts/curator'),
        tokenizer: await loadTokenizer('models/multiverse-arith'),
        concurrency: 1,
      });
      await expect(run).rejects.toMatchObject({ code: 'ENDPOINT_UNAVAILABLE' });
      expect(readOutputs(out).records.map((r) => r.id)).toEqual(['shop-0']);
      expect((readOutputs(out).rejected as RejectedRecord[]).length).toBe(0);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
