/** The dashboard's summary strip for a run: latest, max, median, p99, rate and clip rate (src/runs/stats.ts). */
import { Run } from '../runs/runStore';
import { normStats } from '../runs/stats';
import { NormSummary, toWire } from '../shared/webviewProtocol';

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * Max is exact over the whole run (envelopes keep every bucket's maximum); median and p99 cover the
 * steps still held at full resolution, which is the whole run until it outgrows the recent window.
 */
export function normSummary(run: Run, stepsPerSecond: number | null): NormSummary {
  const series = run.series();
  const empty: NormSummary = { latest: null, latestStep: null, max: null, maxStep: null, median: null, p99: null, window: 0, steps: 0, nonFinite: 0, stepsPerSecond, clipRate: null, clipWindow: 0 };
  if (!series || series.count === 0) return empty;
  const n = series.recentSize;
  const totals = new Float64Array(n);
  let clipKnown = 0;
  let clipped = 0;
  for (let k = 0; k < n; k++) {
    totals[k] = series.totalAt(k);
    const c = series.clippedAt(k);
    if (c !== undefined) {
      clipKnown++;
      if (c) clipped++;
    }
  }
  const stats = normStats(totals);
  const max = series.maxTotal();
  return {
    latest: run.lastStep >= 0 ? toWire(run.lastTotal) : null,
    latestStep: run.lastStep >= 0 ? run.lastStep : null,
    max: finiteOrNull(max.value),
    maxStep: max.step >= 0 ? max.step : null,
    median: finiteOrNull(stats.median),
    p99: finiteOrNull(stats.p99),
    window: n,
    steps: series.count,
    nonFinite: run.rules.nonFiniteCount,
    stepsPerSecond,
    clipRate: clipKnown > 0 ? clipped / clipKnown : null,
    clipWindow: clipKnown,
  };
}
