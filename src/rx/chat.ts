/**
 * Chat sessions that keep the conversation's KV between turns: `model.chat({ system })`, then
 * `send(message)` per turn. A turn prefills only its own tokens (the template's text between the
 * last answer and the new generation prompt); earlier turns — Parallel blocks included, with their
 * Multiverse positions — stay in the KV as they were generated. `fork()` branches a conversation
 * (no KV copied); `dispose()` frees it.
 *
 * The conversation is one held `Sequence` (its native sequence, next position and transcript). A
 * turn runs on a continuation of it (Sequence.continueIn), as its own request, and replaces it
 * only when the turn ends: a turn that is cancelled or fails leaves the conversation as it was.
 */
import { defer, Observable } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import { checkOptionShapes, type GenerateOptions } from '../engine/generate-options.js';
import type { Reservation } from '../engine/admission.js';
import { ROOT_BRANCH } from '../engine/branch-path.js';
import { RequestContext, stretchSlots } from '../engine/request-context.js';
import { Rng } from '../engine/rng.js';
import type { Sequence, SequenceOwner } from '../engine/sequence.js';
import type { LoadedModel } from '../multiverse/loaded-model.js';
import type { ChatMessage } from '../model/tokenizer.js';
import { abortable } from './abort.js';
import { completionOf, type Completion } from './completion.js';
import type { GenerationEvent } from './events.js';
import { resolveModelOptions, runToEnd } from './generate.js';

export interface ChatOptions {
  /** The system message that opens the conversation. */
  system?: string;
  /** Generation options of every turn; a turn's own options override them. */
  defaults?: GenerateOptions;
}

/**
 * The admission reservations behind a conversation's KV, one per turn, shared the way the KV is,
 * and the owner of the held sequences over them: a fork of a chat holds its parent's turns too,
 * the next turn's reservations hold the turns before, and a turn's slots go back to the pool when
 * the last of them lets go.
 */
class HeldTurns implements SequenceOwner {
  /** Held sequences are never stepped, so they are no unit of the step loop's fairness. */
  readonly id = 0;
  private holders = 0;

  constructor(
    private readonly reservation: Reservation | undefined,
    private readonly before: HeldTurns | undefined,
  ) {
    before?.track();
  }

  /** @internal SequenceOwner: a held sequence (or the next turn's reservations) keeps these turns. */
  track(): void {
    this.holders++;
  }

  /** @internal SequenceOwner */
  untrack(): void {
    if (--this.holders > 0) return;
    this.reservation?.release();
    this.before?.untrack();
  }

  /** @internal SequenceOwner: a held sequence is only continued (Sequence.continueIn), never stepped, forked or merged. */
  charge(): never {
    throw new Error('a held conversation is never stepped; a turn steps its continuation');
  }

  forked(): never {
    return this.charge();
  }

  merged(): never {
    return this.charge();
  }
}

/** What the conversation holds between turns: its sequence (owned by its turns) and those turns. */
interface Held {
  seq: Sequence;
  turns: HeldTurns;
}

/** Stands in for the last answer when the template is rendered, to find where the new turn's text starts. */
const ANSWER_MARK = '\u0000multiverse-rx:answer\u0000';

export class ChatSession {
  private held?: Held;
  private turn?: Promise<unknown>;
  private disposed = false;

  /** @internal Use model.chat(). */
  constructor(
    private readonly model: LoadedModel,
    private readonly messages: ChatMessage[],
    private readonly defaults: GenerateOptions,
    held?: Held,
  ) {
    this.held = held;
  }

  /** The conversation so far: the system message, then each user message and answer. */
  get history(): readonly ChatMessage[] {
    return this.messages;
  }

  /**
   * One turn: the answer to `message` as flat events (token, fork, join, done), cold like
   * model.events(). When it ends the answer joins the conversation; unsubscribing (or aborting
   * `options.signal`) cancels the turn and leaves the conversation as it was.
   * @throws TypeError at once for an unknown option key.
   */
  send(message: string, options: GenerateOptions = {}): Observable<GenerationEvent> {
    const { signal, ...rest } = checkOptionShapes(options);
    return defer(() => this.runTurn(message, { ...this.defaults, ...rest })).pipe(abortable(signal));
  }

  /** The same turn as a promise of its completion (text, tokens, branch tree, usage, stats). */
  reply(message: string, options: GenerateOptions = {}): Promise<Completion> {
    return completionOf(this.send(message, options));
  }

  /** A second conversation that shares this one's KV up to now and goes on separately. */
  fork(): ChatSession {
    this.checkIdle('fork');
    const held = this.held && { seq: this.held.seq.continueIn(this.held.turns, ROOT_BRANCH, this.held.seq.rng), turns: this.held.turns };
    return new ChatSession(this.model, [...this.messages], this.defaults, held);
  }

  /** Frees the conversation's KV. Idempotent; a running turn is cancelled by unsubscribing from it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Its turns let go with it (HeldTurns.untrack).
    this.held?.seq.release();
    this.held = undefined;
  }

  private checkIdle(what: string): void {
    if (this.disposed) throw new GenerationError('INVALID_REQUEST', `${what}: the chat session was disposed`);
    if (this.turn) throw new GenerationError('INVALID_REQUEST', `${what}: a turn is still running; wait for it (or cancel it) first`);
  }

  private runTurn(message: string, options: GenerateOptions): Observable<GenerationEvent> {
    return new Observable<GenerationEvent>((subscriber) => {
      this.checkIdle('send');
      const { model } = this;
      let cancelled = false;
      const request = new RequestContext(model.loop);
      const go = async () => {
        if (model.isDisposed) throw new GenerationError('MODEL_DISPOSED', 'the model was disposed');
        const resolved = resolveModelOptions(model, options);
        const tokens = this.turnTokens(message);
        const held = this.held;
        const continuation = () => {
          const rng = Rng.fromSeed(resolved.seed);
          return held ? held.seq.continueIn(request, ROOT_BRANCH, rng) : request.createSequence(ROOT_BRANCH, rng);
        };
        const start = continuation();
        const ctx = model.info.contextLength;
        if (start.nextPos + tokens.length >= ctx) {
          throw new GenerationError('CONTEXT_OVERFLOW', `this turn needs ${tokens.length} more tokens; the conversation has ${start.nextPos} of ${ctx} positions`);
        }
        // The turn's own worst case, as any request's; the conversation before it is held already.
        const slots = tokens.length + stretchSlots(start.nextPos + tokens.length, resolved.maxTokens, ctx);
        await request.admit(model.admission, Math.min(slots, model.info.kvSlots), resolved.waitForKv);
        if (cancelled) return;
        let runs = 0;
        const { done, end } = await runToEnd(model, request, resolved, { emit: (e) => subscriber.next(e), cancelled: () => cancelled }, async () => {
          // A rerun after a preemption continues the conversation as it was held.
          const seq = runs++ === 0 ? start : continuation();
          await seq.feed(tokens, 'last');
          return seq;
        });
        if (cancelled) return;
        // The answer's last token may be deferred; the next turn continues after it.
        await end.settle();
        // A conversation disposed during the turn holds nothing more: all of the turn's KV goes back.
        if (!this.disposed) this.holdAnswer(end, request, held);
        this.messages.push({ role: 'user', content: message }, { role: 'assistant', content: done.text });
        // The turn is over before anyone hears of it, so the next send may follow at once.
        endTurn();
        subscriber.next({ ...done, usage: { ...done.usage, promptTokens: tokens.length } });
        subscriber.complete();
      };
      const endTurn = () => {
        request.releaseAll();
        if (this.turn === running) this.turn = undefined;
      };
      const running: Promise<void> = go().catch((err: unknown) => {
        endTurn();
        if (!cancelled) subscriber.error(err);
      });
      this.turn = running;
      return () => {
        cancelled = true;
        endTurn();
      };
    });
  }

  /** Keeps the turn's last sequence for the next turn, in place of the one it continued. */
  private holdAnswer(end: Sequence, request: RequestContext, before: Held | undefined): void {
    const turns = new HeldTurns(request.holdReservation(), before?.turns);
    this.held = { seq: end.continueIn(turns, ROOT_BRANCH, end.rng), turns };
    // The old sequence goes; its turns stay held through the new ones.
    before?.seq.release();
  }

  /**
   * The tokens this turn adds: the whole templated conversation for the first turn; afterwards the
   * template's text after the last answer (its end-of-turn, the new user message, the generation
   * prompt), found by rendering the conversation with a marker in place of the last answer.
   */
  private turnTokens(message: string): number[] {
    const { tokenizer } = this.model;
    const user: ChatMessage = { role: 'user', content: message };
    if (!this.held) return tokenizer.encode(tokenizer.applyChatTemplate([...this.messages, user], { addGenerationPrompt: true }), { addSpecialTokens: false });
    const marked = [...this.messages.slice(0, -1), { role: 'assistant', content: ANSWER_MARK }, user];
    const text = tokenizer.applyChatTemplate(marked, { addGenerationPrompt: true });
    const at = text.lastIndexOf(ANSWER_MARK);
    if (at < 0) throw new GenerationError('INVALID_REQUEST', "this model's chat template does not write the assistant's answer as given, so a turn cannot continue the conversation's KV");
    return tokenizer.encode(text.slice(at + ANSWER_MARK.length), { addSpecialTokens: false });
  }
}

/** @internal What model.chat() returns. */
export function chatSession(model: LoadedModel, { system, defaults = {} }: ChatOptions): ChatSession {
  checkOptionShapes(defaults, { where: 'defaults' });
  return new ChatSession(model, system === undefined ? [] : [{ role: 'system', content: system }], defaults);
}
