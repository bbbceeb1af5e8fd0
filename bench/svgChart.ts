/** Minimal SVG line charts for benchmark reports: no browser, no dependency, readable as a file. */
import { niceCeil } from '../src/runs/stats';

export interface LineSeries {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
  /** Mark each point with a dot (sparse measurements rather than a sampled curve). */
  dots?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Where the x axis starts (default 0). */
  xMin?: number;
}

const WIDTH = 900;
const HEIGHT = 260;
const MARGIN = { left: 70, right: 170, top: 34, bottom: 40 };

/** Charts stacked vertically in one SVG document. */
export function svgCharts(charts: readonly Chart[]): string {
  const body = charts.map((c, i) => `<g transform="translate(0 ${i * HEIGHT})">${chart(c)}</g>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT * charts.length}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}

function chart(c: Chart): string {
  const all = c.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xMin = c.xMin ?? 0;
  const xMax = Math.max(xMin, ...all.map((p) => p[0])) || 1; // time axes end where the data ends
  const yMax = niceCeil(Math.max(0, ...all.map((p) => p[1])));
  const w = WIDTH - MARGIN.left - MARGIN.right;
  const h = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + ((x - xMin) / (xMax - xMin || 1)) * w;
  const sy = (y: number): number => MARGIN.top + h - (y / yMax) * h;
  const out: string[] = [`<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">${escape(c.title)}</text>`];
  for (let k = 0; k <= 4; k++) {
    const y = (yMax * k) / 4;
    const x = xMin + ((xMax - xMin) * k) / 4;
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${sy(y) + 4}" text-anchor="end">${label(y)}</text>`);
    out.push(`<text x="${sx(x)}" y="${MARGIN.top + h + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${MARGIN.left + w / 2}" y="${HEIGHT - 6}" text-anchor="middle">${escape(c.xLabel)}</text>`);
  out.push(
    `<text transform="translate(16 ${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">${escape(c.yLabel)}</text>`,
  );
  c.series.forEach((s, i) => {
    const d = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join('');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (s.dots)
      for (const [x, y] of s.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py)))
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = MARGIN.top + 14 + i * 18;
    out.push(
      `<line x1="${MARGIN.left + w + 12}" x2="${MARGIN.left + w + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${MARGIN.left + w + 42}" y="${ly}">${escape(s.name)}</text>`);
  });
  return out.join('\n');
}

function label(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3).replace(/\.?0+$/, '');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
