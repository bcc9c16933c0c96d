/**
 * Chat sessions keep the conversation's KV between turns. Oracles: the engine's tokens-stepped
 * counter (turn 2 prefills only its own tokens), and one dense float64 pass over the whole
 * conversation under the Multiverse mask and positions (turn 2 sees turn 1's Parallel block as it
 * was generated, paths at their shared positions).
 */
import { lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiverseLayout } from '../src/multiverse/attention.js';
import { resolveTagIds } from '../src/multiverse/tags.js';
import { loadModel, shippedModelDir, type DoneEvent, type GenerationEvent, type Model } from '../src/index.js';
import { denseForward } from './reference/dense-forward.js';
import { flatTokens, forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';
import { loadForReference, type Loaded } from './support/oracle.js';
import { expectPoolFree } from './support/pool.js';

describe('chat sessions', () => {
  let tiny: Model;
  let ref: Loaded;
  let shipped: Model;
  let eos: number;
  beforeAll(async () => {
    const dir = tinyModel('qwen2', 'F32');
    [tiny, ref, shipped] = await Promise.all([
      loadModel(dir, { kvSlots: 2048, contextLength: 1024 }),
      loadForReference(dir),
      loadModel(shippedModelDir(), { kvSlots: 4096, contextLength: 1024 }),
    ]);
    eos = tiny.tokenizer.eosTokenIds[0];
  });
  afterAll(async () => {
    await tiny.dispose();
    await shipped.dispose();
  });

  it('turn 2 prefills only its own tokens', async () => {
    const chat = shipped.chat({ defaults: { temperature: 0 } });
    const first = await chat.reply('Compute 37*4+12*9');
    expect(first.stats.forks).toBe(1);
    const before = shipped.loop.tokensStepped;
    const second = await chat.reply('Compute 17*3');
    const stepped = shipped.loop.tokensStepped - before;
    // Its own template text and its answer (each token but a final stop token is stepped), nothing of turn 1.
    const conversation = first.usage.promptTokens + first.tokens.length;
    expect(stepped).toBeLessThanOrEqual(second.usage.promptTokens + second.tokens.length + 1);
    expect(stepped).toBeGreaterThanOrEqual(second.usage.promptTokens + second.tokens.length - 1);
    expect(stepped).toBeLessThan(conversation);
    expect(chat.history.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(chat.history[1].content).toBe(first.text);
    chat.dispose();
    await expectPoolFree(shipped);
  });

  it('turn 2 continues from turn 1’s Parallel block as one dense Multiverse pass over the conversation sees it', async () => {
    const tags = resolveTagIds((t) => tiny.tokenizer.tokenId(t))!;
    const chat = tiny.chat({ system: 'Be brief.' });
    const turn1 = forceScripts(
      tiny,
      { '0': ' go<Parallel><Goal><Outline>1: a</Outline><Outline>2: b</Outline></Goal> ab</Conclusion></Parallel> end', '0/0': ' a a</Path>', '0/1': ' b b b b</Path>' },
      eos,
    );
    const events1 = await lastValueFrom(chat.send('first question', { pickToken: turn1.pickToken, maxTokens: 200 }).pipe(toArray()));
    expect((events1.at(-1) as DoneEvent).stats.forks).toBe(1);
    const turn2 = forceScripts(tiny, { '0': ' fine' }, eos);
    const events2 = await lastValueFrom(chat.send('second question', { pickToken: turn2.pickToken, maxTokens: 20 }).pipe(toArray()));

    // The conversation as the dense pass reads it: turn 1's prompt, its answer in merge order, turn 2's template text and answer.
    const prompt1 = tiny.tokenizer.encode(tiny.tokenizer.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'first question' }], { addGenerationPrompt: true }), { addSpecialTokens: false });
    const answer1 = flatTokens(events1);
    const done2 = events2.at(-1) as DoneEvent;
    const full = tiny.tokenizer.applyChatTemplate(
      [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'first question' }, { role: 'assistant', content: '\u0001' }, { role: 'user', content: 'second question' }],
      { addGenerationPrompt: true },
    );
    const delta = tiny.tokenizer.encode(full.slice(full.indexOf('\u0001') + 1), { addSpecialTokens: false });
    expect(done2.usage.promptTokens).toBe(delta.length);
    const answer2 = flatTokens(events2);
    const flat = [...prompt1, ...answer1.map((t) => t.tokenId), ...delta, ...answer2.map((t) => t.tokenId)];
    const layout = multiverseLayout(flat, tags);
    // The positions the engine gave each generated token are the collator's.
    const at2 = prompt1.length + answer1.length + delta.length;
    expect(answer1.map((t) => t.position)).toEqual(layout.positions.slice(prompt1.length, prompt1.length + answer1.length));
    expect(answer2.map((t) => t.position)).toEqual(layout.positions.slice(at2, at2 + answer2.length));
    // The logits turn 2 sampled from equal the dense rows of the tokens before them.
    const rows = denseForward(ref.checkpoint.config, ref.weights, flat, layout.positions, layout.visible);
    const seen = turn2.seen.get('0')!;
    expect(seen.length).toBe(answer2.length + 1);
    const vocab = ref.checkpoint.config.vocabSize;
    seen.slice(0, answer2.length).forEach((logits, i) => {
      const row = rows[at2 - 1 + i];
      let scale = 0;
      let worst = 0;
      for (let v = 0; v < vocab; v++) {
        scale = Math.max(scale, Math.abs(row[v]));
        worst = Math.max(worst, Math.abs(row[v] - logits[v]));
      }
      expect(worst).toBeLessThanOrEqual(1e-4 * scale);
    });
    chat.dispose();
    await expectPoolFree(tiny);
  });

  it('a cancelled turn leaves the conversation as it was; a fork goes on separately; dispose frees all', async () => {
    const chat = shipped.chat({ defaults: { temperature: 0 } });
    const first = await chat.reply('Compute 17*3');
    const branch = chat.fork();
    // Cancelled after three tokens: the conversation must not keep them.
    const partial: GenerationEvent[] = await lastValueFrom(chat.send('Compute 12*9').pipe(take(3), toArray()));
    expect(partial).toHaveLength(3);
    expect(chat.history).toHaveLength(2);
    const a = await chat.reply('Compute 12*9');
    const b = await branch.reply('Compute 12*9');
    // Same conversation, same question, greedy: the fork and the rolled-back original answer alike.
    expect(b.text).toBe(a.text);
    expect(branch.history).toHaveLength(4);
    chat.dispose();
    // The fork still holds the first turn's KV: its admission reservation stays until it lets go.
    expect(shipped.admissionStats().reservedSlots).toBeGreaterThan(0);
    branch.dispose();
    await expectPoolFree(shipped);
    expect(shipped.admissionStats()).toMatchObject({ reservedSlots: 0, running: 0 });
    expect(first.text.endsWith('Answer: 51')).toBe(true);
  });

  it('a chat disposed while its turn runs keeps nothing once the turn ends', async () => {
    const chat = shipped.chat({ defaults: { temperature: 0 } });
    await chat.reply('Compute 17*3');
    const turn = chat.reply('Compute 12*9');
    chat.dispose();
    expect((await turn).text).toMatch(/Answer: \d+/);
    await expectPoolFree(shipped);
    expect(shipped.admissionStats()).toMatchObject({ reservedSlots: 0, running: 0 });
  });

  it('one turn at a time', async () => {
    const chat = shipped.chat();
    const running = chat.reply('Compute 17*3');
    await expect(chat.reply('Compute 12*9')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/a turn is still running/) });
    await running;
    chat.dispose();
    await expectPoolFree(shipped);
  });
});
