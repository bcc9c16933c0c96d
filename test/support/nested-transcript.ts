/**
 * The forcing script of a transcript nested three levels deep, by branch path: two outlines per
 * goal; path 1 nests a block whose path 2 nests another. The scheduler test drives it through
 * fork and merge; the structured-prefill test scores what that run wrote.
 */
export const NESTED: Record<string, string> = {
  '0': ' plan<Parallel><Goal><Outline>1: left</Outline><Outline>2: right</Outline></Goal> both</Conclusion></Parallel> end',
  '0/0': ' L<Parallel><Goal><Outline>1.1: a</Outline><Outline>1.2: b</Outline></Goal> ab</Conclusion></Parallel> l</Path>',
  '0/0/0': ' x</Path>',
  '0/0/1': ' y<Parallel><Goal><Outline>1: p</Outline><Outline>2: q</Outline></Goal> pq</Conclusion></Parallel></Path>',
  '0/0/1/0': ' s</Path>',
  '0/0/1/1': ' t t t</Path>',
  '0/1': ' R r r r r r</Path>',
};
