/**
 * A bounded per-run series: the most recent steps at full resolution in a ring buffer, older steps
 * folded into min/max envelope buckets (envelope.ts) that double their width when full. Memory
 * stays fixed for runs of any length, and no spike or non-finite step ever disappears from what a
 * chart can draw: a bucket keeps its maximum, minimum, the step of its maximum and its first
 * non-finite step.
 * Arrays start small and double up to those limits, so the many short runs (and ranks) an endpoint
 * keeps cost little; the per-layer envelope is part of the layer budget, so wide models stay bounded.
 * The recent window may also be narrowed later (`limitLayerValues`, then `trim`): a store shares one
 * budget of full-resolution values among all its series (windowBudget.ts).
 */
import { Envelope, EnvelopePoint, foldLayers, INITIAL_POINTS, mergeMaxima } from './envelope';

export interface SeriesLimits {
  /** Recent steps kept at full resolution (reduced for very wide layer counts, see capacityFor). */
  recentSteps: number;
  /** Envelope buckets kept for older steps. */
  envelopeBuckets: number;
  /** Budget of per-layer values held in the recent ring, shared by all layers. */
  layerValueBudget: number;
}

export const DEFAULT_SERIES_LIMITS: SeriesLimits = {
  recentSteps: 65_536,
  envelopeBuckets: 4_096,
  layerValueBudget: 8_000_000,
};

export interface StepPoint {
  step: number;
  /** Absent when the step's norm was not measured (it carries only loss or learning rate). */
  total?: number;
  layers?: ArrayLike<number>;
  loss?: number;
  lr?: number;
  clipped?: boolean;
  skipped?: boolean;
}

const FLAG_LOSS = 1;
const FLAG_LR = 2;
const FLAG_CLIPPED = 4;
const FLAG_CLIPPED_KNOWN = 8;
const FLAG_SKIPPED = 16;
const FLAG_LAYERS = 32;
const FLAG_NO_NORM = 64;

export class Series {
  readonly layerCount: number;
  private readonly limits: SeriesLimits;
  /** Most points held at full resolution; the arrays grow to this. */
  private maxPoints: number;
  private allocated: number;
  private steps: Float64Array;
  private totals: Float64Array;
  private layerValues: Float32Array;
  private losses: Float64Array;
  private lrs: Float64Array;
  private flags: Uint8Array;
  private head = 0; // index of the oldest point in the ring
  private size = 0;
  readonly envelope: Envelope;
  /** Steps ever appended, including those folded into the envelope. */
  count = 0;
  /** Smallest and largest step ever appended (Infinity and -Infinity while empty). */
  stepMin = Infinity;
  stepMax = -Infinity;
  /** `count` just after the latest step that arrived below its predecessor (-Infinity: none). */
  private lastInversion = -Infinity;

  constructor(layerCount: number, limits: SeriesLimits = DEFAULT_SERIES_LIMITS) {
    this.layerCount = layerCount;
    this.limits = limits;
    this.maxPoints = capacityFor(layerCount, limits);
    this.allocated = Math.min(this.maxPoints, INITIAL_POINTS);
    this.steps = new Float64Array(this.allocated);
    this.totals = new Float64Array(this.allocated);
    this.layerValues = new Float32Array(this.allocated * layerCount);
    this.losses = new Float64Array(this.allocated);
    this.lrs = new Float64Array(this.allocated);
    this.flags = new Uint8Array(this.allocated);
    this.envelope = new Envelope(envelopeBucketsFor(layerCount, limits), layerCount);
  }

  /** Most points held at full resolution; older ones are folded into the envelope. */
  get capacity(): number {
    return this.maxPoints;
  }

  /**
   * Holds at most `layerValues` per-layer values at full resolution from now on (never more than
   * the series' own limits allow). Points beyond a narrower window are folded into the envelope by
   * `trim`, a slice at a time: folding half of a full window at once took about 30 ms.
   */
  limitLayerValues(layerValues: number): void {
    this.maxPoints = capacityFor(this.layerCount, {
      ...this.limits,
      layerValueBudget: Math.min(this.limits.layerValueBudget, layerValues),
    });
  }

  /**
   * Folds at most `points` of the oldest points beyond the window into the envelope, and shrinks
   * the arrays once none is left, so a narrowed window gives its memory back even if no step comes.
   * Returns how many points are still beyond the window.
   */
  trim(points: number): number {
    for (let k = 0; k < points && this.size > this.maxPoints; k++) this.evictOldest();
    const excess = this.size - this.maxPoints;
    if (excess <= 0 && this.allocated > this.maxPoints) this.reallocate(this.maxPoints);
    return Math.max(0, excess);
  }

  append(p: StepPoint): void {
    if (this.size > 0 && p.step < this.stepAt(this.size - 1)) this.lastInversion = this.count + 1;
    if (p.step < this.stepMin) this.stepMin = p.step;
    if (p.step > this.stepMax) this.stepMax = p.step;
    if (this.size >= this.maxPoints)
      this.evictOldest(); // a narrowed window keeps its size until trimmed
    else if (this.size === this.allocated) this.reallocate(Math.min(this.maxPoints, this.allocated * 2));
    const i = (this.head + this.size) % this.allocated;
    this.steps[i] = p.step;
    this.totals[i] = p.total ?? NaN;
    const layers = p.layers;
    this.storeLayers(i * this.layerCount, layers);
    // A step without layer norms is not a step whose layers blew up: the flag keeps the two apart.
    let flags = layers && layers.length > 0 ? FLAG_LAYERS : 0;
    // Nor is a step whose norm was not measured a step whose norm is NaN.
    if (p.total === undefined) flags |= FLAG_NO_NORM;
    if (p.loss !== undefined) {
      flags |= FLAG_LOSS;
      this.losses[i] = p.loss;
    }
    if (p.lr !== undefined) {
      flags |= FLAG_LR;
      this.lrs[i] = p.lr;
    }
    if (p.clipped !== undefined) flags |= FLAG_CLIPPED_KNOWN | (p.clipped ? FLAG_CLIPPED : 0);
    if (p.skipped) flags |= FLAG_SKIPPED;
    this.flags[i] = flags;
    this.size++;
    this.count++;
  }

  private storeLayers(base: number, layers: ArrayLike<number> | undefined): void {
    const n = this.layerCount;
    if (layers && layers.length === n) {
      this.layerValues.set(layers, base); // one native copy: this runs for every step
      return;
    }
    for (let l = 0; l < n; l++) this.layerValues[base + l] = layers && l < layers.length ? layers[l] : NaN;
  }

  /** Number of points held at full resolution. */
  get recentSize(): number {
    return this.size;
  }

  /** The k-th most recent-window point (0 = oldest kept at full resolution). */
  recent(k: number): StepPoint {
    const i = this.ringIndex(k);
    const f = this.flags[i];
    const point: StepPoint = { step: this.steps[i] };
    if (!(f & FLAG_NO_NORM)) point.total = this.totals[i];
    if (this.layerCount > 0) point.layers = this.layerValues.subarray(i * this.layerCount, (i + 1) * this.layerCount);
    if (f & FLAG_LOSS) point.loss = this.losses[i];
    if (f & FLAG_LR) point.lr = this.lrs[i];
    if (f & FLAG_CLIPPED_KNOWN) point.clipped = (f & FLAG_CLIPPED) !== 0;
    if (f & FLAG_SKIPPED) point.skipped = true;
    return point;
  }

  /** All points oldest first: envelope buckets for old history, then the raw recent steps. */
  points(): EnvelopePoint[] {
    const out = this.envelope.points();
    for (let k = 0; k < this.size; k++) {
      const step = this.stepAt(k);
      const total = this.totalAt(k);
      const finite = total !== undefined && Number.isFinite(total);
      const nonFinite = total !== undefined && !finite;
      out.push({
        stepFirst: step,
        stepLast: step,
        count: 1,
        min: finite ? total : NaN,
        max: finite ? total : NaN,
        minStep: step,
        maxStep: step,
        nonFiniteStep: nonFinite ? step : -1,
        nonFiniteValue: nonFinite ? total : 0,
        loss: this.lossAt(k),
        lr: this.lrAt(k),
      });
    }
    return out;
  }

  /** Step of the k-th point of the recent window (0 = oldest), without allocating. */
  stepAt(k: number): number {
    return this.steps[this.ringIndex(k)];
  }

  /** Total norm of the k-th recent point; undefined when the step's norm was not measured. */
  totalAt(k: number): number | undefined {
    const i = this.ringIndex(k);
    return this.flags[i] & FLAG_NO_NORM ? undefined : this.totals[i];
  }

  /** The measured total norms of the recent points from k on (steps without a norm left out). */
  measuredTotals(k = 0): Float64Array {
    const out = new Float64Array(Math.max(0, this.size - k));
    let n = 0;
    for (let j = k; j < this.size; j++) {
      const total = this.totalAt(j);
      if (total !== undefined) out[n++] = total;
    }
    return out.subarray(0, n);
  }

  /** Loss of the k-th recent point, NaN when the step did not report one. */
  lossAt(k: number): number {
    const i = this.ringIndex(k);
    return this.flags[i] & FLAG_LOSS ? this.losses[i] : NaN;
  }

  lrAt(k: number): number {
    const i = this.ringIndex(k);
    return this.flags[i] & FLAG_LR ? this.lrs[i] : NaN;
  }

  /** Whether the k-th recent step was clipped; undefined when the client did not say. */
  clippedAt(k: number): boolean | undefined {
    const f = this.flags[this.ringIndex(k)];
    return f & FLAG_CLIPPED_KNOWN ? (f & FLAG_CLIPPED) !== 0 : undefined;
  }

  /**
   * Index in the recent window of the first point appended after the first `cursor` appends
   * (a cursor is a past value of `count`), or -1 when some of those points were already folded
   * into the envelope and only a full reload shows them.
   */
  recentIndexOf(cursor: number): number {
    const k = this.size - (this.count - cursor);
    return k >= 0 && cursor <= this.count ? k : -1;
  }

  /**
   * Per-layer maxima over `columns` equal slices of the steps from..to (inclusive), row-major
   * (column * layerCount + layer): the range query behind per-layer charts and heatmaps. A cell
   * is -Infinity where no step of the slice reported layer norms, NaN or +Infinity where a layer
   * was non-finite there. An envelope bucket fills every column its steps overlap, so zooming in
   * past the envelope's resolution shows wide blocks rather than invented detail.
   */
  layerColumns(from: number, to: number, columns: number): Float32Array {
    const L = this.layerCount;
    const out = new Float32Array(Math.max(0, columns) * L).fill(-Infinity);
    if (L === 0 || columns <= 0 || !(to >= from)) return out;
    const perColumn = (to - from + 1) / columns;
    const columnOf = (step: number): number => Math.min(columns - 1, Math.floor((step - from) / perColumn));
    this.envelope.forEachBucketIn(from, to, (stepFirst, stepLast, layerMax) => {
      const c0 = columnOf(Math.max(from, stepFirst));
      const c1 = columnOf(Math.min(to, stepLast));
      for (let c = c0; c <= c1; c++) mergeMaxima(out, c * L, layerMax, 0, L);
    });
    const [k0, k1] = this.recentRange(from, to);
    for (let k = k0; k < k1; k++) {
      const step = this.stepAt(k);
      const i = this.ringIndex(k);
      if (step < from || step > to || !(this.flags[i] & FLAG_LAYERS)) continue;
      foldLayers(out, columnOf(step) * L, this.layerValues, i * L, L);
    }
    return out;
  }

  /** Whether the recent window is in step order (binary search applies). */
  private get ordered(): boolean {
    return this.count - this.lastInversion >= this.size - 1;
  }

  /** Recent-window indices [k0, k1) that can hold steps from..to; all of them when steps arrived out of order. */
  private recentRange(from: number, to: number): [number, number] {
    if (!this.ordered) return [0, this.size];
    return [this.lowerBound(from), this.lowerBound(to + 1)];
  }

  private lowerBound(step: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.stepAt(mid) < step) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private ringIndex(k: number): number {
    const i = this.head + k;
    return i >= this.allocated ? i - this.allocated : i;
  }

  private evictOldest(): void {
    const i = this.head;
    const hasLayers = (this.flags[i] & FLAG_LAYERS) !== 0;
    this.envelope.add(
      this.steps[i],
      this.totalAt(0),
      hasLayers ? this.layerValues : undefined,
      i * this.layerCount,
      this.lossAt(0),
      this.lrAt(0),
    );
    this.head = (this.head + 1) % this.allocated;
    this.size--;
  }

  /** Moves the ring into arrays of n points (n >= size), oldest point first. */
  private reallocate(n: number): void {
    const L = this.layerCount;
    const head = this.head;
    // Points from head to the arrays' end; the rest wrapped to 0.
    const tail = Math.min(this.size, this.allocated - head);
    const wrapped = this.size - tail;
    const unwrap = <T extends Float64Array | Float32Array | Uint8Array>(
      a: T,
      width: number,
      make: (n: number) => T,
    ): T => {
      const out = make(n * width);
      out.set(a.subarray(head * width, (head + tail) * width), 0);
      out.set(a.subarray(0, wrapped * width), tail * width);
      return out;
    };
    this.steps = unwrap(this.steps, 1, (k) => new Float64Array(k));
    this.totals = unwrap(this.totals, 1, (k) => new Float64Array(k));
    this.layerValues = unwrap(this.layerValues, L, (k) => new Float32Array(k));
    this.losses = unwrap(this.losses, 1, (k) => new Float64Array(k));
    this.lrs = unwrap(this.lrs, 1, (k) => new Float64Array(k));
    this.flags = unwrap(this.flags, 1, (k) => new Uint8Array(k));
    this.head = 0;
    this.allocated = n;
  }
}

export function capacityFor(layerCount: number, limits: SeriesLimits): number {
  if (layerCount === 0) return limits.recentSteps;
  const byBudget = Math.floor(limits.layerValueBudget / layerCount);
  return Math.max(256, Math.min(limits.recentSteps, byBudget));
}

/** Envelope buckets: per-layer maxima may take a quarter of the layer budget (at least 64 buckets). */
export function envelopeBucketsFor(layerCount: number, limits: SeriesLimits): number {
  if (layerCount === 0) return limits.envelopeBuckets;
  return Math.min(limits.envelopeBuckets, Math.max(64, Math.floor(limits.layerValueBudget / 4 / layerCount)));
}
