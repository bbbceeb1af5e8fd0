/**
 * Min/max decimation of a series that grows at its end, kept up to date as rows arrive instead of
 * redone over every row each frame (chart.js's decimation plugin redoes it over all the rows in
 * view on every update, 73k of them for a 1M-step run). Buckets are a fixed width of steps,
 * aligned to multiples of it, so they stay put while the run grows and only the last one changes;
 * the width is a quarter-octave step (2^(k/4)) at least a pixel wide, so it changes only when the
 * range in view grows or shrinks by about a fifth (a window that slides, following the latest
 * steps, starts the buckets over each time, as chart.js did). Each bucket keeps its first,
 * smallest, largest and last point at their own steps, so the line spans every row's value within
 * 1.2 px of its step (chart.js min/max decimation draws each pixel column's extremes at the
 * column's mean step), with at most about 4 points per pixel.
 */
import { lowerBound, upperBound } from './sortedSearch';

export interface XY {
  x: number;
  y: number;
}

/** Below this many points per pixel a series is drawn whole (chart.js's own threshold). */
const POINTS_PER_PX = 4;

interface Buckets<P> {
  /** The caller's count of rewrites this was built from. */
  rewrites: number;
  width: number;
  /** Source indices taken: [first, end). */
  first: number;
  end: number;
  out: P[];
  /** The last bucket: its number, where its points start in `out`, its points. */
  bucket: number;
  tailStart: number;
  head: P;
  min: P;
  max: P;
  last: P;
}

export class Decimator<P extends XY> {
  private state?: Buckets<P>;

  /**
   * The points to draw for steps from..to on widthPx pixels, with one point beyond each end so the
   * line reaches the edges. `points` is sorted by x; `rewrites` changes whenever rows change other
   * than by arriving at the end (then the buckets are built again).
   */
  decimate(points: readonly P[], rewrites: number, from: number, to: number, widthPx: number): P[] {
    const first = Math.max(0, lowerBound(points, from) - 1);
    const end = Math.min(points.length, upperBound(points, to) + 1);
    if (end - first <= POINTS_PER_PX * widthPx || !(to > from)) {
      this.state = undefined;
      return points.slice(first, end);
    }
    const width = bucketWidth((to - from) / widthPx);
    let s = this.state;
    if (!s || s.rewrites !== rewrites || s.width !== width || s.first !== first || end < s.end) {
      const p = points[first];
      s = { rewrites, width, first, end: first, out: [], bucket: NaN, tailStart: 0, head: p, min: p, max: p, last: p };
      this.state = s;
    }
    for (let i = s.end; i < end; i++) add(s, points[i]);
    s.end = end;
    // A copy: chart.js hooks the arrays it draws to track their changes.
    return s.out.slice();
  }
}

/** The smallest quarter-octave width at least `stepsPerPx` (so at most one bucket per pixel). */
function bucketWidth(stepsPerPx: number): number {
  return 2 ** (Math.ceil(4 * Math.log2(stepsPerPx)) / 4);
}

function add<P extends XY>(s: Buckets<P>, p: P): void {
  const bucket = Math.floor(p.x / s.width);
  if (bucket !== s.bucket) {
    s.bucket = bucket;
    s.tailStart = s.out.length;
    s.head = s.min = s.max = s.last = p;
  } else {
    s.last = p;
    if (p.y < s.min.y) s.min = p;
    if (p.y > s.max.y) s.max = p;
    s.out.length = s.tailStart;
  }
  const { head, min, max, last, out } = s;
  const early = min.x <= max.x ? min : max;
  const late = early === min ? max : min;
  out.push(head);
  if (early !== head) out.push(early);
  if (late !== early) out.push(late);
  if (last !== late) out.push(last);
}
