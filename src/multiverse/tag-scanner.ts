/**
 * Finds the Multiverse tags a stream of tokens completes. With a Multiverse tokenizer each tag is
 * one added token and is recognised by id; for other models the tags are ordinary text and are
 * found in the decoded text, even when a tag is split over several tokens.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import { MULTIVERSE_TAGS, type MultiverseTagText } from './tags.js';

/**
 * How tags appear in a model's token stream: `ids` when the tokenizer has the 12 tags as added
 * tokens (each tag is one token, matched by id), `text` otherwise (tags are ordinary text, matched
 * in the decoded stream even when split over several tokens).
 */
export type TagMode =
  | { kind: 'ids'; idOf: Readonly<Record<MultiverseTagText, number>> }
  | { kind: 'text'; textOf: (tokenId: number) => string };

/** The tokenizer's mode: `ids` when all 12 tags are among its added tokens, else `text`. */
export function tagModeOf(tokenizer: Pick<Tokenizer, 'tokenId' | 'idToText'>): TagMode {
  const ids = MULTIVERSE_TAGS.map((tag) => tokenizer.tokenId(tag));
  if (ids.every((id) => id !== undefined)) {
    return { kind: 'ids', idOf: Object.fromEntries(MULTIVERSE_TAGS.map((tag, i) => [tag, ids[i]])) as Record<MultiverseTagText, number> };
  }
  return { kind: 'text', textOf: (id) => tokenizer.idToText(id) };
}

const LONGEST_TAG = Math.max(...MULTIVERSE_TAGS.map((t) => t.length));
/** What most tokens complete, shared rather than allocated per token. */
const NO_TAGS: readonly MultiverseTagText[] = Object.freeze([]);

export class TagScanner {
  private readonly byId?: Map<number, MultiverseTagText>;
  /** Text mode: the tail of the text seen so far, long enough to hold a tag split across tokens. */
  private window = '';

  constructor(private readonly mode: TagMode) {
    if (mode.kind === 'ids') this.byId = new Map(MULTIVERSE_TAGS.map((t) => [mode.idOf[t], t]));
  }

  /** The tags that end in this token, in order. */
  push(tokenId: number): readonly MultiverseTagText[] {
    if (this.mode.kind === 'ids') {
      const tag = this.byId!.get(tokenId);
      return tag ? [tag] : NO_TAGS;
    }
    const before = this.window.length;
    const text = this.window + this.mode.textOf(tokenId);
    const found: { tag: MultiverseTagText; end: number }[] = [];
    for (const tag of MULTIVERSE_TAGS) {
      // Occurrences that end inside the new text (earlier ones were reported already).
      for (let at = text.indexOf(tag); at >= 0; at = text.indexOf(tag, at + 1)) {
        if (at + tag.length > before) found.push({ tag, end: at + tag.length });
      }
    }
    this.window = text.slice(-(LONGEST_TAG - 1));
    return found.length === 0 ? NO_TAGS : found.sort((a, b) => a.end - b.end).map((f) => f.tag);
  }
}
