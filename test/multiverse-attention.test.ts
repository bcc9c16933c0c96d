import { describe, expect, it } from 'vitest';
import { MultiverseFormatError, multiverseLayout, type MultiverseLayout } from '../src/multiverse/attention.js';
import { MULTIVERSE_TAG_TEXT, resolveTagIds, type MultiverseTagIds } from '../src/multiverse/tags.js';

const tagIds: MultiverseTagIds = {
  parallelOpen: 100,
  parallelClose: 101,
  goalOpen: 102,
  goalClose: 103,
  pathOpen: 104,
  pathClose: 105,
  conclusionOpen: 106,
  conclusionClose: 107,
};
const NEWLINE = 10;
const TEXT = 1;

/** Token ids for a space-separated transcript: tags by their text, `nl` a newline, any other word one text token. */
function seq(transcript: string): number[] {
  const byText = new Map<string, number>(Object.entries(MULTIVERSE_TAG_TEXT).map(([role, text]) => [text, tagIds[role as keyof MultiverseTagIds]]));
  return transcript.split(/\s+/).map((word) => byText.get(word) ?? (word === 'nl' ? NEWLINE : TEXT));
}

/** The layout's visibility as rows of '1' (visible) and '.' (hidden), one row per query. */
function matrix(layout: MultiverseLayout): string[] {
  const n = layout.positions.length;
  return Array.from({ length: n }, (_, q) => Array.from({ length: n }, (_, k) => (layout.visible(q, k) ? '1' : '.')).join(''));
}

/** Causal rows with the listed [firstQuery, lastQuery, firstKey, lastKey] rectangles hidden. */
function causalExcept(n: number, hidden: [number, number, number, number][]): string[] {
  const isHidden = (q: number, k: number) => hidden.some(([q0, q1, k0, k1]) => q >= q0 && q <= q1 && k >= k0 && k <= k1);
  return Array.from({ length: n }, (_, q) => Array.from({ length: n }, (_, k) => (k <= q && !isHidden(q, k) ? '1' : '.')).join(''));
}

describe('multiverseLayout', () => {
  it('plain text is causal with positions 0..n-1', () => {
    const layout = multiverseLayout([5, 6, 7], tagIds);
    expect(layout.positions).toEqual([0, 1, 2]);
    expect(layout.pathSpan).toEqual([-1, -1, -1]);
    expect(matrix(layout)).toEqual(['1..', '11.', '111']);
  });

  it('two paths of different lengths: both start after </Goal>, the conclusion after the longer', () => {
    const tokens = seq('x <Parallel> <Goal> g </Goal> <Path> a </Path> <Path> b c d </Path> <Conclusion> z </Conclusion> </Parallel> y');
    const layout = multiverseLayout(tokens, tagIds);
    // </Goal> at 4; path 1 spans positions 5..7 (3 tokens), path 2 5..9 (5): <Conclusion> at 4 + 5 + 1.
    expect(layout.positions).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(layout.pathSpan).toEqual([-1, -1, -1, -1, -1, 0, 0, 0, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1]);
    // Path 2 (tokens 8..12) does not see path 1 (5..7); path 1 cannot see path 2 (it is later).
    expect(matrix(layout)).toEqual([
      '1.................',
      '11................',
      '111...............',
      '1111..............',
      '11111.............',
      '111111............',
      '1111111...........',
      '11111111..........',
      '11111...1.........',
      '11111...11........',
      '11111...111.......',
      '11111...1111......',
      '11111...11111.....',
      '11111111111111....',
      '111111111111111...',
      '1111111111111111..',
      '11111111111111111.',
      '111111111111111111',
    ]);
  });

  it('separators between tags: <Path> shares the position after </Goal>, separators stay visible', () => {
    const tokens = seq(
      '<Parallel> nl <Goal> g </Goal> nl <Path> a </Path> nl <Path> b c </Path> nl <Conclusion> z </Conclusion> nl </Parallel>',
    );
    const layout = multiverseLayout(tokens, tagIds);
    // The newline after </Goal> (4) and both <Path> tags take 5. The newline after path 1 continues
    // from it (8); the one after path 2 (ends at 8) takes 9, shared with <Conclusion> = 4 + 4 + 1.
    expect(layout.positions).toEqual([0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 5, 6, 7, 8, 9, 9, 10, 11, 12, 13]);
    expect(layout.pathSpan).toEqual([-1, -1, -1, -1, -1, -1, 0, 0, 0, -1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1]);
    // Path 2 (10..13) hides path 1 (6..8) but sees the newline between them (9), which saw path 1.
    expect(matrix(layout)).toEqual([
      '1...................',
      '11..................',
      '111.................',
      '1111................',
      '11111...............',
      '111111..............',
      '1111111.............',
      '11111111............',
      '111111111...........',
      '1111111111..........',
      '111111...11.........',
      '111111...111........',
      '111111...1111.......',
      '111111...11111......',
      '111111111111111.....',
      '1111111111111111....',
      '11111111111111111...',
      '111111111111111111..',
      '1111111111111111111.',
      '11111111111111111111',
    ]);
  });

  // Outer path A holds a block with paths A1 (1 token of text) and A2 (2); outer path B is short.
  const nested = seq(
    '<Parallel> <Goal> g </Goal> ' +
      '<Path> a <Parallel> <Goal> h </Goal> <Path> b </Path> <Path> c d </Path> <Conclusion> e </Conclusion> </Parallel> </Path> ' +
      '<Path> f </Path> <Conclusion> z </Conclusion> </Parallel>',
  );

  it('nested block: inner paths restart after the inner </Goal>; the outer path counts its position extent', () => {
    const layout = multiverseLayout(nested, tagIds);
    expect(layout.positions).toEqual([
      0, 1, 2, 3, // <Parallel> <Goal> g </Goal>
      4, 5, 6, 7, 8, 9, // <Path> a <Parallel> <Goal> h </Goal>
      10, 11, 12, // A1: <Path> b </Path>
      10, 11, 12, 13, // A2: <Path> c d </Path>
      14, 15, 16, 17, // <Conclusion> e </Conclusion> </Parallel>: the inner conclusion at 9 + 4 + 1
      18, // </Path> of A: A spans positions 4..18, extent 15 (its 18 tokens share positions)
      4, 5, 6, // B: <Path> f </Path>
      19, 20, 21, 22, // <Conclusion> z </Conclusion> </Parallel>: 3 + 15 + 1, where A's children merged
    ]);
    expect(layout.pathSpan).toEqual([-1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 3, 3, 3, -1, -1, -1, -1]);
    // A2 (13..16) hides A1 (10..12); B (22..24) hides all of A (4..21), nested paths included.
    expect(matrix(layout)).toEqual(causalExcept(29, [[13, 16, 10, 12], [22, 24, 4, 21]]));
  });

  it('paths of two blocks one after the other see each other causally', () => {
    const tokens = seq(
      '<Parallel> <Goal> </Goal> <Path> a </Path> <Path> b </Path> <Conclusion> </Conclusion> </Parallel> ' +
        '<Parallel> <Goal> </Goal> <Path> c </Path> <Path> d </Path> <Conclusion> </Conclusion> </Parallel>',
    );
    const layout = multiverseLayout(tokens, tagIds);
    expect(layout.positions).toEqual([0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 12, 13, 14, 15, 16, 17]);
    expect(matrix(layout)).toEqual(causalExcept(24, [[6, 8, 3, 5], [18, 20, 15, 17]]));
  });

  it('a prefix (generation in progress, blocks still open) gets the positions and mask of the whole', () => {
    const whole = multiverseLayout(nested, tagIds);
    const wholeMatrix = matrix(whole);
    for (let n = 1; n <= nested.length; n++) {
      const prefix = multiverseLayout(nested.slice(0, n), tagIds);
      expect(prefix.positions).toEqual(whole.positions.slice(0, n));
      expect(prefix.pathSpan).toEqual(whole.pathSpan.slice(0, n));
      expect(matrix(prefix)).toEqual(wholeMatrix.slice(0, n).map((row) => row.slice(0, n)));
    }
  });

  it.each([
    ['<Path> a </Path>', 0, /unexpected <Path> outside any block/],
    ['a </Parallel>', 1, /unexpected <\/Parallel> outside any block/],
    ['<Parallel> <Goal> <Path>', 2, /unexpected <Path> inside <Goal>/],
    ['<Parallel> <Goal> <Parallel>', 2, /unexpected <Parallel> inside <Goal>/],
    ['<Parallel> <Path>', 1, /unexpected <Path> after <Parallel> \(expected <Goal> or text\)/],
    ['<Parallel> <Goal> g </Goal> </Path>', 4, /unexpected <\/Path> after <\/Goal>/],
    ['<Parallel> <Goal> g </Goal> nl <Conclusion>', 5, /unexpected <Conclusion> after <\/Goal> \(expected .*after at least one path/],
    ['<Parallel> <Goal> g </Goal> <Path> a </Parallel>', 6, /unexpected <\/Parallel> inside <Path>/],
    ['<Parallel> <Goal> g </Goal> <Path> a </Path> <Conclusion> z </Conclusion> <Path>', 10, /unexpected <Path> after <\/Conclusion>/],
  ])('rejects %s at token %i', (transcript, index, message) => {
    const run = () => multiverseLayout(seq(transcript), tagIds);
    expect(run).toThrow(MultiverseFormatError);
    expect(run).toThrow(message);
    try {
      run();
    } catch (e) {
      expect((e as MultiverseFormatError).tokenIndex).toBe(index);
    }
  });

  it('rejects tag ids that collide and query indices out of range', () => {
    expect(() => multiverseLayout([1], { ...tagIds, pathClose: tagIds.pathOpen })).toThrow(/<\/Path> and <Path> share token id 104/);
    const layout = multiverseLayout([1, 2], tagIds);
    expect(() => layout.visible(2, 0)).toThrow(RangeError);
  });
});

describe('resolveTagIds', () => {
  it('looks each tag up by text, and gives undefined when one is missing', () => {
    const vocab = new Map<string, number>(Object.entries(MULTIVERSE_TAG_TEXT).map(([role, text]) => [text, tagIds[role as keyof MultiverseTagIds]]));
    expect(resolveTagIds((text) => vocab.get(text))).toEqual(tagIds);
    vocab.delete('</Conclusion>');
    expect(resolveTagIds((text) => vocab.get(text))).toBeUndefined();
  });
});
