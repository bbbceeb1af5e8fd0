/** Binary searches over points sorted by x. */

/** The first index whose x is at least `x` (the length when none). */
export function lowerBound(sorted: readonly { x: number }[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].x < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose x is above `x` (the length when none). */
export function upperBound(sorted: readonly { x: number }[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].x <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
