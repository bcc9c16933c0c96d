/**
 * The budget-control curve as an SVG line chart (accuracy against the critical-path budget, one
 * line per model): a plain-text image that docs/ can embed and a diff can read.
 */

export interface CurvePoint {
  budget: number;
  accuracy: number;
}

export interface CurveSeries {
  name: string;
  /** Any SVG colour. */
  color: string;
  points: readonly CurvePoint[];
}

/** Plot geometry: the drawing area inside the margins. */
export const PLOT = { width: 560, height: 340, left: 56, right: 150, top: 20, bottom: 44 } as const;

/** Where a point lands: budgets spread linearly from the smallest to the largest, accuracy 0..1 bottom to top. */
export function plotXY(p: CurvePoint, minBudget: number, maxBudget: number): { x: number; y: number } {
  const w = PLOT.width - PLOT.left - PLOT.right;
  const h = PLOT.height - PLOT.top - PLOT.bottom;
  const span = maxBudget - minBudget || 1;
  return { x: PLOT.left + ((p.budget - minBudget) / span) * w, y: PLOT.top + (1 - p.accuracy) * h };
}

const round = (v: number) => Math.round(v * 10) / 10;

/** The chart; `title` goes above it. */
export function budgetCurveSvg(series: readonly CurveSeries[], title: string): string {
  const budgets = series.flatMap((s) => s.points.map((p) => p.budget));
  const lo = Math.min(...budgets);
  const hi = Math.max(...budgets);
  const x0 = PLOT.left;
  const x1 = PLOT.width - PLOT.right;
  const yOf = (acc: number) => round(plotXY({ budget: lo, accuracy: acc }, lo, hi).y);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PLOT.width}" height="${PLOT.height}" viewBox="0 0 ${PLOT.width} ${PLOT.height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${PLOT.width}" height="${PLOT.height}" fill="white"/>`,
  ];
  for (let tick = 0; tick <= 100; tick += 25) {
    const y = yOf(tick / 100);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${tick}%</text>`);
  }
  for (const b of [...new Set(budgets)].sort((a, c) => a - c)) {
    const x = round(plotXY({ budget: b, accuracy: 0 }, lo, hi).x);
    out.push(`<text x="${x}" y="${PLOT.height - PLOT.bottom + 16}" text-anchor="middle">${b}</text>`);
  }
  out.push(`<text x="${(x0 + x1) / 2}" y="${PLOT.height - 8}" text-anchor="middle">critical-path budget (tokens)</text>`);
  out.push(`<line x1="${x0}" y1="${yOf(0)}" x2="${x1}" y2="${yOf(0)}" stroke="#333"/>`);
  out.push(`<line x1="${x0}" y1="${yOf(0)}" x2="${x0}" y2="${yOf(1)}" stroke="#333"/>`);
  series.forEach((s, i) => {
    const pts = s.points.map((p) => plotXY(p, lo, hi)).map(({ x, y }) => ({ x: round(x), y: round(y) }));
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(({ x, y }) => `${x},${y}`).join(' ')}"/>`);
    for (const { x, y } of pts) out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`);
    const ly = PLOT.top + 10 + i * 18;
    out.push(`<line x1="${x1 + 16}" y1="${ly}" x2="${x1 + 36}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${x1 + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
