/**
 * Reads the block structure of a Multiverse text: the tag grammar is checked by the engine's own
 * layout code (multiverseLayout over the text cut into tags and text pieces), then the blocks'
 * character ranges are collected for the content checks.
 */
import { MultiverseFormatError, multiverseLayout } from '../multiverse/attention.js';
import { MULTIVERSE_TAG_TEXT, type MultiverseTag, type MultiverseTagIds } from '../multiverse/tags.js';

/** A block's character ranges in the text: [start, end) each. */
export interface TextBlock {
  /** From `<Parallel>` to the end of `</Parallel>`. */
  whole: [number, number];
  /** Inside `<Goal>…</Goal>`. */
  goal: [number, number];
  /** Each path from `<Path>` to the end of `</Path>`. */
  paths: [number, number][];
  /** 1 for a top-level block. */
  depth: number;
}

const ROLES = Object.keys(MULTIVERSE_TAG_TEXT) as MultiverseTag[];
/** Tag ids for the pseudo-tokens: each role its own id; text pieces are 0. */
const PSEUDO_IDS = Object.fromEntries(ROLES.map((role, i) => [role, i + 1])) as MultiverseTagIds;
const ROLE_OF_TAG = new Map<string, MultiverseTag>(ROLES.map((role) => [MULTIVERSE_TAG_TEXT[role], role]));
const TAG = /<\/?(?:Parallel|Goal|Path|Conclusion)>/g;

/**
 * The blocks of `text` in text order, or a grammar problem as a message.
 */
export function readBlocks(text: string): { blocks: TextBlock[] } | { problem: string } {
  const tags = [...text.matchAll(TAG)].map((m) => ({ role: ROLE_OF_TAG.get(m[0]) as MultiverseTag, at: m.index, end: m.index + m[0].length }));
  // One pseudo-token per tag and one per text piece between tags: enough for the grammar.
  const tokens: number[] = [];
  const tokenTag: number[] = [];
  let last = 0;
  tags.forEach((tag, i) => {
    if (tag.at > last) tokens.push(0);
    tokens.push(PSEUDO_IDS[tag.role]);
    tokenTag[tokens.length - 1] = i;
    last = tag.end;
  });
  try {
    multiverseLayout(tokens, PSEUDO_IDS);
  } catch (err) {
    if (!(err instanceof MultiverseFormatError)) throw err;
    const tag = tags[tokenTag[err.tokenIndex]];
    return { problem: `the tags break the Multiverse grammar at character ${tag.at}: ${err.message.replace(/^token \d+: /, '')}` };
  }
  const opened = tags.filter((t) => t.role === 'parallelOpen').length;
  const closed = tags.filter((t) => t.role === 'parallelClose').length;
  if (opened !== closed) return { problem: `${opened - closed} <Parallel> block(s) never closed` };

  const blocks: TextBlock[] = [];
  const open: TextBlock[] = [];
  const starts: number[] = [];
  for (const tag of tags) {
    const top = open.at(-1) as TextBlock;
    switch (tag.role) {
      case 'parallelOpen': {
        const block: TextBlock = { whole: [tag.at, -1], goal: [-1, -1], paths: [], depth: open.length + 1 };
        blocks.push(block);
        open.push(block);
        break;
      }
      case 'goalOpen':
        top.goal[0] = tag.end;
        break;
      case 'goalClose':
        top.goal[1] = tag.at;
        break;
      case 'pathOpen':
        starts.push(tag.at);
        break;
      case 'pathClose':
        top.paths.push([starts.pop() as number, tag.end]);
        break;
      case 'parallelClose':
        top.whole[1] = tag.end;
        open.pop();
        break;
    }
  }
  return { blocks };
}
