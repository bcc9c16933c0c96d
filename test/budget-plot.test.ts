/** The budget-control chart: points land where hand-computed coordinates say, one line per model. */
import { describe, expect, it } from 'vitest';
import { budgetCurveSvg } from '../src/tasks/budget-plot.js';

const polylines = (svg: string) =>
  [...svg.matchAll(/<polyline [^>]*stroke="([^"]+)"[^>]*points="([^"]+)"/g)].map((m) => ({
    color: m[1],
    points: m[2].split(' ').map((p) => p.split(',').map(Number)),
  }));

describe('budgetCurveSvg', () => {
  it('maps budgets linearly onto the x axis and accuracy onto y, one polyline per series', () => {
    const svg = budgetCurveSvg(
      [
        { name: 'Multiverse', color: 'blue', points: [{ budget: 64, accuracy: 0.5 }, { budget: 192, accuracy: 0.75 }, { budget: 320, accuracy: 1 }] },
        { name: 'AR <twin>', color: 'red', points: [{ budget: 64, accuracy: 0 }, { budget: 320, accuracy: 0.25 }] },
      ],
      'curve',
    );
    // Drawing area: x from 56 to 560 - 150 = 410, y from 20 (100%) to 340 - 44 = 296 (0%).
    expect(polylines(svg)).toEqual([
      { color: 'blue', points: [[56, 158], [233, 89], [410, 20]] },
      { color: 'red', points: [[56, 296], [410, 227]] },
    ]);
    expect(svg).toContain('AR &lt;twin&gt;');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<circle /g)?.length).toBe(5);
  });
});
