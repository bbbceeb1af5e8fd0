/** The summary strip's statistics for a run: median, p99 (src/runs/stats.ts), steps/s and clip rate. */
import { Run } from '../runs/runStore';
import { normStats } from '../runs/stats';
import { NormSummary } from '../shared/webviewProtocol';

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** Median and p99 cover the steps still held at full resolution: the whole run until it outgrows the recent window. */
export function normSummary(run: Run, stepsPerSecond: number | null): NormSummary {
  const series = run.series();
  const empty: NormSummary = {
    median: null,
    p99: null,
    window: 0,
    steps: 0,
    stepsPerSecond,
    clipRate: null,
    clipWindow: 0,
  };
  if (!series || series.count === 0) return empty;
  const n = series.recentSize;
  let clipKnown = 0;
  let clipped = 0;
  for (let k = 0; k < n; k++) {
    const c = series.clippedAt(k);
    if (c !== undefined) {
      clipKnown++;
      if (c) clipped++;
    }
  }
  const stats = normStats(series.measuredTotals());
  return {
    median: finiteOrNull(stats.median),
    p99: finiteOrNull(stats.p99),
    window: n,
    steps: series.count,
    stepsPerSecond,
    clipRate: clipKnown > 0 ? clipped / clipKnown : null,
    clipWindow: clipKnown,
  };
}
