/**
 * Statistics over a run's total norms, shared by the dashboard's summary strip, post-run summaries
 * and the clipping quick fixes' suggested max_norm.
 */

export interface NormStats {
  count: number;
  nonFinite: number;
  min: number;
  max: number;
  median: number;
  p99: number;
}

/** Quantile q in [0, 1] of ascending values, linearly interpolated; NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function finiteSorted(values: ArrayLike<number>): { sorted: Float64Array; nonFinite: number } {
  const finite = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite[n++] = values[i];
  const sorted = finite.subarray(0, n).sort();
  return { sorted, nonFinite: values.length - n };
}

export function normStats(values: ArrayLike<number>): NormStats {
  const { sorted, nonFinite } = finiteSorted(values);
  const n = sorted.length;
  return {
    count: values.length,
    nonFinite,
    min: n ? sorted[0] : NaN,
    max: n ? sorted[n - 1] : NaN,
    median: quantileSorted(sorted, 0.5),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** Fewer healthy steps than this give no suggestion: the estimate would be noise. */
export const MIN_STEPS_FOR_SUGGESTION = 20;

/**
 * A max_norm that leaves healthy steps alone and catches explosions: outliers (more than 6 robust
 * standard deviations above the median) are set aside, then the 98th percentile of the rest is
 * rounded up to a "nice" number (1, 2, 2.5, 5 × 10^k). Undefined without enough finite steps.
 */
export function suggestMaxNorm(values: ArrayLike<number>): number | undefined {
  const { sorted } = finiteSorted(values);
  if (sorted.length < MIN_STEPS_FOR_SUGGESTION) return undefined;
  const median = quantileSorted(sorted, 0.5);
  const deviations = Float64Array.from(sorted, (v) => Math.abs(v - median)).sort();
  const mad = quantileSorted(deviations, 0.5);
  const limit = median + 6 * 1.4826 * mad;
  let healthy = sorted.length;
  while (healthy > 0 && sorted[healthy - 1] > limit && mad > 0) healthy--;
  const p98 = quantileSorted(sorted.subarray(0, healthy), 0.98);
  return niceCeil(p98);
}

/** Smallest of 1, 2, 2.5, 5 × 10^k that is >= v (v > 0). */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const exp = Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const candidate = Number((m * 10 ** exp).toPrecision(12));
    if (candidate >= v * (1 - 1e-12)) return candidate;
  }
  return 10 ** (exp + 1);
}
