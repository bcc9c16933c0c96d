/**
 * The Multiverse structure tags (docs/multiverse.md) that shape attention and position ids. Each is a
 * single added token in a Multiverse tokenizer; the other added tags (`<Think>`, `<Outline>`) do
 * not change the layout and are ordinary tokens here.
 */

/** All 12 tags of the format, in open/close pairs: the added tokens of a Multiverse tokenizer. */
export const MULTIVERSE_TAGS = [
  '<Think>',
  '</Think>',
  '<Parallel>',
  '</Parallel>',
  '<Goal>',
  '</Goal>',
  '<Outline>',
  '</Outline>',
  '<Path>',
  '</Path>',
  '<Conclusion>',
  '</Conclusion>',
] as const;

export type MultiverseTagText = (typeof MULTIVERSE_TAGS)[number];

/** Tag text by role. */
export const MULTIVERSE_TAG_TEXT = {
  parallelOpen: '<Parallel>',
  parallelClose: '</Parallel>',
  goalOpen: '<Goal>',
  goalClose: '</Goal>',
  pathOpen: '<Path>',
  pathClose: '</Path>',
  conclusionOpen: '<Conclusion>',
  conclusionClose: '</Conclusion>',
} as const;

export type MultiverseTag = keyof typeof MULTIVERSE_TAG_TEXT;

/** The token id of each structure tag. */
export type MultiverseTagIds = Record<MultiverseTag, number>;

/**
 * Maps each tag's id back to its role.
 * @throws RangeError when two tags share an id (the layout could not tell them apart).
 */
export function tagRoles(ids: MultiverseTagIds): Map<number, MultiverseTag> {
  const roles = new Map<number, MultiverseTag>();
  for (const role of Object.keys(MULTIVERSE_TAG_TEXT) as MultiverseTag[]) {
    const other = roles.get(ids[role]);
    if (other !== undefined) {
      throw new RangeError(`${MULTIVERSE_TAG_TEXT[role]} and ${MULTIVERSE_TAG_TEXT[other]} share token id ${ids[role]}`);
    }
    roles.set(ids[role], role);
  }
  return roles;
}

/**
 * Looks every tag up by its text (e.g. in the tokenizer's added tokens). Returns undefined when
 * any tag is missing: the tokenizer then spells tags as plain text and there is no token layout.
 * @throws RangeError when two tags resolve to the same id.
 */
export function resolveTagIds(idOf: (text: string) => number | undefined): MultiverseTagIds | undefined {
  const ids: Partial<MultiverseTagIds> = {};
  for (const role of Object.keys(MULTIVERSE_TAG_TEXT) as MultiverseTag[]) {
    const id = idOf(MULTIVERSE_TAG_TEXT[role]);
    if (id === undefined) return undefined;
    ids[role] = id;
  }
  tagRoles(ids as MultiverseTagIds);
  return ids as MultiverseTagIds;
}
