/**
 * The older part of a run's series (series.ts): min/max buckets over arrival order that double their
 * width when full, so memory stays fixed for runs of any length and no spike or non-finite step
 * disappears from what a chart can draw. Also the folds of layer values into maxima that the
 * series' recent ring shares.
 */

/** Points (or buckets) the arrays start with before doubling. */
export const INITIAL_POINTS = 256;

/** One drawable point: a raw step (count 1) or an envelope bucket covering stepFirst..stepLast. */
export interface EnvelopePoint {
  stepFirst: number;
  stepLast: number;
  count: number;
  /** Smallest and largest finite total norm in the bucket (NaN when the bucket has none). */
  min: number;
  max: number;
  /** Steps at which min and max occurred. */
  minStep: number;
  maxStep: number;
  /** First non-finite step in the bucket and its value, or -1. */
  nonFiniteStep: number;
  nonFiniteValue: number;
  /** Mean of the reported finite losses and learning rates in the bucket (NaN when none was reported). */
  loss: number;
  lr: number;
}

/** Min/max buckets over arrival order. When all buckets are used, neighbours merge and the width doubles. */
export class Envelope {
  private readonly maxBuckets: number;
  private readonly layerCount: number;
  private width = 1;
  private buckets = 0;
  private allocated: number;
  private stepFirst: Float64Array;
  private stepLast: Float64Array;
  private counts: Float64Array;
  private mins: Float64Array;
  private maxs: Float64Array;
  private minSteps: Float64Array;
  private maxSteps: Float64Array;
  private nonFiniteSteps: Float64Array;
  private nonFiniteValues: Float64Array;
  /** Sums and counts of reported losses and learning rates, for per-bucket means. */
  private lossSums: Float64Array;
  private lossCounts: Float64Array;
  private lrSums: Float64Array;
  private lrCounts: Float64Array;
  /**
   * Per-layer maximum of each bucket; NaN (or -Infinity, corrupt for a norm) in any step makes it
   * NaN. -Infinity as a maximum means no step of the bucket reported layer norms.
   */
  private layerMax: Float32Array;

  constructor(maxBuckets: number, layerCount: number) {
    this.maxBuckets = maxBuckets + (maxBuckets % 2);
    this.layerCount = layerCount;
    const n = (this.allocated = Math.min(this.maxBuckets, INITIAL_POINTS));
    this.stepFirst = new Float64Array(n);
    this.stepLast = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.mins = new Float64Array(n);
    this.maxs = new Float64Array(n);
    this.minSteps = new Float64Array(n);
    this.maxSteps = new Float64Array(n);
    this.nonFiniteSteps = new Float64Array(n);
    this.nonFiniteValues = new Float64Array(n);
    this.lossSums = new Float64Array(n);
    this.lossCounts = new Float64Array(n);
    this.lrSums = new Float64Array(n);
    this.lrCounts = new Float64Array(n);
    this.layerMax = new Float32Array(n * layerCount);
  }

  get bucketCount(): number {
    return this.buckets;
  }

  get bucketWidth(): number {
    return this.width;
  }

  /**
   * Folds one step in; `total` is undefined when the step's norm was not measured, `layers` when it
   * reported no layer norms, loss and lr NaN when absent.
   */
  add(
    step: number,
    total: number | undefined,
    layers: Float32Array | undefined,
    layerOffset: number,
    loss = NaN,
    lr = NaN,
  ): void {
    let b = this.buckets - 1;
    if (b < 0 || this.counts[b] >= this.width) {
      if (this.buckets === this.maxBuckets) this.halve();
      else if (this.buckets === this.allocated) this.grow(Math.min(this.maxBuckets, this.allocated * 2));
      b = this.buckets++;
      this.stepFirst[b] = step;
      this.counts[b] = 0;
      this.mins[b] = NaN;
      this.maxs[b] = NaN;
      this.minSteps[b] = step;
      this.maxSteps[b] = step;
      this.nonFiniteSteps[b] = -1;
      this.nonFiniteValues[b] = 0;
      this.lossSums[b] = 0;
      this.lossCounts[b] = 0;
      this.lrSums[b] = 0;
      this.lrCounts[b] = 0;
      this.layerMax.fill(-Infinity, b * this.layerCount, (b + 1) * this.layerCount);
    }
    this.stepLast[b] = step;
    this.counts[b]++;
    if (total === undefined) {
      // not measured: the bucket's norms are those of its other steps
    } else if (Number.isFinite(total)) {
      if (!(total >= this.mins[b])) {
        this.mins[b] = total;
        this.minSteps[b] = step;
      }
      if (!(total <= this.maxs[b])) {
        this.maxs[b] = total;
        this.maxSteps[b] = step;
      }
    } else if (this.nonFiniteSteps[b] < 0) {
      this.nonFiniteSteps[b] = step;
      this.nonFiniteValues[b] = total;
    }
    if (Number.isFinite(loss)) {
      this.lossSums[b] += loss;
      this.lossCounts[b]++;
    }
    if (Number.isFinite(lr)) {
      this.lrSums[b] += lr;
      this.lrCounts[b]++;
    }
    if (layers) foldLayers(this.layerMax, b * this.layerCount, layers, layerOffset, this.layerCount);
  }

  points(): EnvelopePoint[] {
    const out: EnvelopePoint[] = [];
    for (let b = 0; b < this.buckets; b++) {
      out.push({
        stepFirst: this.stepFirst[b],
        stepLast: this.stepLast[b],
        count: this.counts[b],
        min: this.mins[b],
        max: this.maxs[b],
        minStep: this.minSteps[b],
        maxStep: this.maxSteps[b],
        nonFiniteStep: this.nonFiniteSteps[b],
        nonFiniteValue: this.nonFiniteValues[b],
        loss: this.lossCounts[b] > 0 ? this.lossSums[b] / this.lossCounts[b] : NaN,
        lr: this.lrCounts[b] > 0 ? this.lrSums[b] / this.lrCounts[b] : NaN,
      });
    }
    return out;
  }

  /** Calls fn for each bucket whose steps overlap from..to, with a view of its per-layer maxima. */
  forEachBucketIn(
    from: number,
    to: number,
    fn: (stepFirst: number, stepLast: number, layerMax: Float32Array) => void,
  ): void {
    for (let b = 0; b < this.buckets; b++) {
      const first = Math.min(this.stepFirst[b], this.stepLast[b]);
      const last = Math.max(this.stepFirst[b], this.stepLast[b]);
      if (last >= from && first <= to) fn(first, last, this.layerMaxima(b));
    }
  }

  /** Per-layer maxima of bucket b (a view, valid until the next add). */
  layerMaxima(b: number): Float32Array {
    return this.layerMax.subarray(b * this.layerCount, (b + 1) * this.layerCount);
  }

  private grow(n: number): void {
    const f64 = (a: Float64Array): Float64Array => {
      const out = new Float64Array(n);
      out.set(a);
      return out;
    };
    this.stepFirst = f64(this.stepFirst);
    this.stepLast = f64(this.stepLast);
    this.counts = f64(this.counts);
    this.mins = f64(this.mins);
    this.maxs = f64(this.maxs);
    this.minSteps = f64(this.minSteps);
    this.maxSteps = f64(this.maxSteps);
    this.nonFiniteSteps = f64(this.nonFiniteSteps);
    this.nonFiniteValues = f64(this.nonFiniteValues);
    this.lossSums = f64(this.lossSums);
    this.lossCounts = f64(this.lossCounts);
    this.lrSums = f64(this.lrSums);
    this.lrCounts = f64(this.lrCounts);
    const layerMax = new Float32Array(n * this.layerCount);
    layerMax.set(this.layerMax);
    this.layerMax = layerMax;
    this.allocated = n;
  }

  private halve(): void {
    const L = this.layerCount;
    for (let dst = 0, src = 0; src < this.buckets; dst++, src += 2) {
      const a = src;
      const b = src + 1;
      this.stepFirst[dst] = this.stepFirst[a];
      this.stepLast[dst] = this.stepLast[b];
      this.counts[dst] = this.counts[a] + this.counts[b];
      const minFromB = this.mins[b] < this.mins[a] || Number.isNaN(this.mins[a]);
      this.mins[dst] = minFromB ? this.mins[b] : this.mins[a];
      this.minSteps[dst] = minFromB ? this.minSteps[b] : this.minSteps[a];
      const takeB = this.maxs[b] > this.maxs[a] || Number.isNaN(this.maxs[a]);
      this.maxs[dst] = takeB ? this.maxs[b] : this.maxs[a];
      this.maxSteps[dst] = takeB ? this.maxSteps[b] : this.maxSteps[a];
      this.lossSums[dst] = this.lossSums[a] + this.lossSums[b];
      this.lossCounts[dst] = this.lossCounts[a] + this.lossCounts[b];
      this.lrSums[dst] = this.lrSums[a] + this.lrSums[b];
      this.lrCounts[dst] = this.lrCounts[a] + this.lrCounts[b];
      const nfa = this.nonFiniteSteps[a] >= 0;
      this.nonFiniteSteps[dst] = nfa ? this.nonFiniteSteps[a] : this.nonFiniteSteps[b];
      this.nonFiniteValues[dst] = nfa ? this.nonFiniteValues[a] : this.nonFiniteValues[b];
      if (dst !== a) this.layerMax.copyWithin(dst * L, a * L, (a + 1) * L);
      mergeMaxima(this.layerMax, dst * L, this.layerMax, b * L, L);
    }
    this.buckets /= 2;
    this.width *= 2;
  }
}

/** Max where a non-finite value (NaN or ±Infinity) wins, so a blown-up layer stays visible. */
function maxKeepingNaN(acc: number, v: number): number {
  if (Number.isNaN(acc) || Number.isNaN(v)) return NaN;
  if (!Number.isFinite(v) && v < 0) return NaN; // -Infinity as a norm is corrupt data: flag it
  return v > acc ? v : acc;
}

/**
 * Folds a row of layer values into a row of maxima (NaN and +Infinity stay visible): maxKeepingNaN
 * over a row, written out by hand, since this runs for every layer of every step once the ring is full.
 */
export function foldLayers(
  acc: Float32Array,
  accOffset: number,
  values: Float32Array,
  offset: number,
  n: number,
): void {
  for (let l = 0; l < n; l++) {
    const v = values[offset + l];
    const a = acc[accOffset + l];
    if (v > a) acc[accOffset + l] = v;
    else if (!(v <= a) || v === -Infinity) acc[accOffset + l] = NaN; // NaN on either side, or a corrupt -Infinity
  }
}

/**
 * Merges rows of maxima. Unlike a value, a maximum of -Infinity means "no step with layer norms
 * here" (data's -Infinity is already NaN by then), so it gives way instead of turning into NaN.
 */
export function mergeMaxima(
  acc: Float32Array,
  accOffset: number,
  maxima: Float32Array,
  offset: number,
  n: number,
): void {
  for (let l = 0; l < n; l++) {
    const a = acc[accOffset + l];
    const b = maxima[offset + l];
    acc[accOffset + l] = a === -Infinity ? b : b === -Infinity ? a : maxKeepingNaN(a, b);
  }
}
