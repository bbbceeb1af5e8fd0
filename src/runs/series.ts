/**
 * A bounded per-run series: the most recent steps at full resolution in a ring buffer, older steps
 * folded into min/max envelope buckets that double their width when full. Memory stays fixed for
 * runs of any length, and no spike or non-finite step ever disappears from what a chart can draw:
 * a bucket keeps its maximum, minimum, the step of its maximum and its first non-finite step.
 */

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
  total: number;
  layers?: ArrayLike<number>;
  loss?: number;
  lr?: number;
  clipped?: boolean;
  skipped?: boolean;
}

/** One drawable point: a raw step (count 1) or an envelope bucket covering stepFirst..stepLast. */
export interface EnvelopePoint {
  stepFirst: number;
  stepLast: number;
  count: number;
  /** Smallest and largest finite total norm in the bucket (NaN when the bucket has none). */
  min: number;
  max: number;
  /** Step at which max occurred. */
  maxStep: number;
  /** First non-finite step in the bucket and its value, or -1. */
  nonFiniteStep: number;
  nonFiniteValue: number;
}

const FLAG_LOSS = 1;
const FLAG_LR = 2;
const FLAG_CLIPPED = 4;
const FLAG_CLIPPED_KNOWN = 8;
const FLAG_SKIPPED = 16;

export class Series {
  readonly layerCount: number;
  readonly capacity: number;
  private readonly steps: Float64Array;
  private readonly totals: Float64Array;
  private readonly layerValues: Float32Array;
  private readonly losses: Float64Array;
  private readonly lrs: Float64Array;
  private readonly flags: Uint8Array;
  private head = 0; // index of the oldest point in the ring
  private size = 0;
  readonly envelope: Envelope;
  /** Steps ever appended, including those folded into the envelope. */
  count = 0;

  constructor(layerCount: number, limits: SeriesLimits = DEFAULT_SERIES_LIMITS) {
    this.layerCount = layerCount;
    this.capacity = capacityFor(layerCount, limits);
    this.steps = new Float64Array(this.capacity);
    this.totals = new Float64Array(this.capacity);
    this.layerValues = new Float32Array(this.capacity * layerCount);
    this.losses = new Float64Array(this.capacity);
    this.lrs = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.envelope = new Envelope(limits.envelopeBuckets, layerCount);
  }

  append(p: StepPoint): void {
    if (this.size === this.capacity) this.evictOldest();
    const i = (this.head + this.size) % this.capacity;
    this.steps[i] = p.step;
    this.totals[i] = p.total;
    const base = i * this.layerCount;
    const layers = p.layers;
    for (let l = 0; l < this.layerCount; l++) this.layerValues[base + l] = layers && l < layers.length ? layers[l] : NaN;
    let flags = 0;
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

  /** Number of points held at full resolution. */
  get recentSize(): number {
    return this.size;
  }

  /** The k-th most recent-window point (0 = oldest kept at full resolution). */
  recent(k: number): StepPoint {
    const i = (this.head + k) % this.capacity;
    const f = this.flags[i];
    const point: StepPoint = { step: this.steps[i], total: this.totals[i] };
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
      const i = (this.head + k) % this.capacity;
      const step = this.steps[i];
      const total = this.totals[i];
      const finite = Number.isFinite(total);
      out.push({
        stepFirst: step,
        stepLast: step,
        count: 1,
        min: finite ? total : NaN,
        max: finite ? total : NaN,
        maxStep: step,
        nonFiniteStep: finite ? -1 : step,
        nonFiniteValue: finite ? 0 : total,
      });
    }
    return out;
  }

  private evictOldest(): void {
    const i = this.head;
    const base = i * this.layerCount;
    this.envelope.add(this.steps[i], this.totals[i], this.layerValues, base);
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}

export function capacityFor(layerCount: number, limits: SeriesLimits): number {
  if (layerCount === 0) return limits.recentSteps;
  const byBudget = Math.floor(limits.layerValueBudget / layerCount);
  return Math.max(256, Math.min(limits.recentSteps, byBudget));
}

/** Min/max buckets over arrival order. When all buckets are used, neighbours merge and the width doubles. */
export class Envelope {
  private readonly maxBuckets: number;
  private readonly layerCount: number;
  private width = 1;
  private buckets = 0;
  private readonly stepFirst: Float64Array;
  private readonly stepLast: Float64Array;
  private readonly counts: Float64Array;
  private readonly mins: Float64Array;
  private readonly maxs: Float64Array;
  private readonly maxSteps: Float64Array;
  private readonly nonFiniteSteps: Float64Array;
  private readonly nonFiniteValues: Float64Array;
  /** Per-layer maximum of each bucket; NaN (or -Infinity, corrupt for a norm) anywhere in it makes it NaN. */
  private readonly layerMax: Float32Array;

  constructor(maxBuckets: number, layerCount: number) {
    this.maxBuckets = maxBuckets + (maxBuckets % 2);
    this.layerCount = layerCount;
    const n = this.maxBuckets;
    this.stepFirst = new Float64Array(n);
    this.stepLast = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.mins = new Float64Array(n);
    this.maxs = new Float64Array(n);
    this.maxSteps = new Float64Array(n);
    this.nonFiniteSteps = new Float64Array(n);
    this.nonFiniteValues = new Float64Array(n);
    this.layerMax = new Float32Array(n * layerCount);
  }

  get bucketCount(): number {
    return this.buckets;
  }

  get bucketWidth(): number {
    return this.width;
  }

  add(step: number, total: number, layers: Float32Array, layerOffset: number): void {
    let b = this.buckets - 1;
    if (b < 0 || this.counts[b] >= this.width) {
      if (this.buckets === this.maxBuckets) this.halve();
      b = this.buckets++;
      this.stepFirst[b] = step;
      this.counts[b] = 0;
      this.mins[b] = NaN;
      this.maxs[b] = NaN;
      this.maxSteps[b] = step;
      this.nonFiniteSteps[b] = -1;
      this.nonFiniteValues[b] = 0;
      this.layerMax.fill(-Infinity, b * this.layerCount, (b + 1) * this.layerCount);
    }
    this.stepLast[b] = step;
    this.counts[b]++;
    if (Number.isFinite(total)) {
      if (!(total >= this.mins[b])) this.mins[b] = total;
      if (!(total <= this.maxs[b])) {
        this.maxs[b] = total;
        this.maxSteps[b] = step;
      }
    } else if (this.nonFiniteSteps[b] < 0) {
      this.nonFiniteSteps[b] = step;
      this.nonFiniteValues[b] = total;
    }
    const base = b * this.layerCount;
    for (let l = 0; l < this.layerCount; l++) this.layerMax[base + l] = maxKeepingNaN(this.layerMax[base + l], layers[layerOffset + l]);
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
        maxStep: this.maxSteps[b],
        nonFiniteStep: this.nonFiniteSteps[b],
        nonFiniteValue: this.nonFiniteValues[b],
      });
    }
    return out;
  }

  /** Per-layer maxima of bucket b (a view, valid until the next add). */
  layerMaxima(b: number): Float32Array {
    return this.layerMax.subarray(b * this.layerCount, (b + 1) * this.layerCount);
  }

  private halve(): void {
    const L = this.layerCount;
    for (let dst = 0, src = 0; src < this.buckets; dst++, src += 2) {
      const a = src;
      const b = src + 1;
      this.stepFirst[dst] = this.stepFirst[a];
      this.stepLast[dst] = this.stepLast[b];
      this.counts[dst] = this.counts[a] + this.counts[b];
      this.mins[dst] = minFinite(this.mins[a], this.mins[b]);
      const takeB = this.maxs[b] > this.maxs[a] || Number.isNaN(this.maxs[a]);
      this.maxs[dst] = takeB ? this.maxs[b] : this.maxs[a];
      this.maxSteps[dst] = takeB ? this.maxSteps[b] : this.maxSteps[a];
      const nfa = this.nonFiniteSteps[a] >= 0;
      this.nonFiniteSteps[dst] = nfa ? this.nonFiniteSteps[a] : this.nonFiniteSteps[b];
      this.nonFiniteValues[dst] = nfa ? this.nonFiniteValues[a] : this.nonFiniteValues[b];
      for (let l = 0; l < L; l++) this.layerMax[dst * L + l] = maxKeepingNaN(this.layerMax[a * L + l], this.layerMax[b * L + l]);
    }
    this.buckets /= 2;
    this.width *= 2;
  }
}

function minFinite(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return a < b ? a : b;
}

/** Max where a non-finite value (NaN or ±Infinity) wins, so a blown-up layer stays visible. */
function maxKeepingNaN(acc: number, v: number): number {
  if (Number.isNaN(acc) || Number.isNaN(v)) return NaN;
  if (!Number.isFinite(v) && v < 0) return NaN; // -Infinity as a norm is corrupt data: flag it
  return v > acc ? v : acc;
}
