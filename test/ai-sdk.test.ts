/**
 * The AI SDK provider with the real `ai` package (generateText, streamText) on the shipped model:
 * the text equals the model's own transcript (streamed deltas in transcript order, not interleaved
 * as the paths decode), usage and finish reason are mapped, the branch tree and # parallel arrive
 * in provider metadata, and an abort frees the KV.
 */
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, shippedModelDir, type Completion, type Model } from '../src/index.js';
import { expectPoolFree } from './support/pool.js';

const PROMPT = 'Compute 37*4+12*9+85*3';

describe('AI SDK provider (multiverse-rx/ai-sdk)', () => {
  let model: Model;
  let expected: Completion;
  let multiverse: typeof import('../src/ai-sdk/index.js').multiverse;
  beforeAll(async () => {
    // Through the package's own export map, as an app imports it.
    ({ multiverse } = (await import('multiverse-rx/ai-sdk' as string)) as typeof import('../src/ai-sdk/index.js'));
    model = await loadModel(shippedModelDir(), { kvSlots: 4096, contextLength: 1024 });
    expected = await model.complete(PROMPT, { temperature: 0 });
  });
  afterAll(() => model.dispose());

  it('generateText: the transcript, usage, finish reason and the branch tree', async () => {
    const r = await generateText({ model: multiverse(model), prompt: PROMPT, temperature: 0 });
    expect(r.text).toBe(expected.text);
    expect(r.text.endsWith(`Answer: ${37 * 4 + 12 * 9 + 85 * 3}`)).toBe(true);
    expect(r.finishReason).toBe('stop');
    expect(r.usage.inputTokens).toBe(expected.usage.promptTokens);
    expect(r.usage.outputTokens).toBe(expected.usage.completionTokens);
    const meta = r.providerMetadata!.multiverse as unknown as { forks: number; parallelism: number; tree: Completion['tree'] };
    expect(meta.forks).toBe(1);
    expect(meta.parallelism).toBeCloseTo(expected.stats.parallelism, 10);
    expect(meta.tree.forks[0].paths.map((p) => p.outline)).toEqual(['37*4', '12*9', '85*3']);
  });

  it('streamText: deltas concatenate to the transcript, paths one after another', async () => {
    const r = streamText({ model: multiverse(model), prompt: PROMPT, temperature: 0 });
    const deltas: string[] = [];
    for await (const d of r.textStream) deltas.push(d);
    expect(deltas.length).toBeGreaterThan(10);
    expect(deltas.join('')).toBe(expected.text);
    expect(await r.finishReason).toBe('stop');
    expect((await r.usage).outputTokens).toBe(expected.usage.completionTokens);
    expect(((await r.providerMetadata)!.multiverse as unknown as { forks: number }).forks).toBe(1);
  });

  it('maps the settings it has and warns about those it lacks', async () => {
    const r = await generateText({ model: multiverse(model), prompt: PROMPT, temperature: 0, maxOutputTokens: 5, presencePenalty: 0.5 });
    expect(r.finishReason).toBe('length');
    expect(r.usage.outputTokens).toBeLessThanOrEqual(5 * 8);
    expect(r.warnings).toEqual([expect.objectContaining({ type: 'unsupported', feature: 'presencePenalty' })]);
  });

  it('an abort mid-stream cancels the request and frees the KV', async () => {
    const controller = new AbortController();
    const r = streamText({
      model: multiverse(model),
      prompt: PROMPT,
      temperature: 0,
      providerOptions: { multiverse: { ignoreEos: true, maxTokens: 900 } },
      abortSignal: controller.signal,
    });
    let deltas = 0;
    try {
      for await (const d of r.textStream) if (d && ++deltas === 3) controller.abort();
    } catch (e) {
      expect((e as Error).name).toBe('AbortError');
    }
    expect(deltas).toBeLessThan(50);
    await expectPoolFree(model);
  });
});
