/**
 * Markers for thousands of non-finite steps (a run that diverged stays NaN) would bury the chart:
 * keep the first marker of every `gapPx`-wide pixel column in view, so each column that holds a
 * non-finite step shows exactly one marker, whatever the zoom.
 */
import { lowerBound } from './sortedSearch';

export function dedupeByPixel<T extends { x: number }>(
  sorted: readonly T[],
  from: number,
  to: number,
  widthPx: number,
  gapPx = 3,
): T[] {
  const out: T[] = [];
  if (!(to > from) || widthPx <= 0) return out;
  const perPx = (to - from) / widthPx;
  let lastColumn = -Infinity;
  for (let i = lowerBound(sorted, from); i < sorted.length && sorted[i].x <= to; i++) {
    const column = Math.floor((sorted[i].x - from) / perPx / gapPx);
    if (column !== lastColumn) {
      out.push(sorted[i]);
      lastColumn = column;
    }
  }
  return out;
}
